// Live updates (useSubscription): the changed meeting or connection lands in the store by its id, through the
// same fragments the cards use; an unlinked connection is deleted from the store by `connectionId`.
import { graphql } from 'react-relay';

export const meetingChanged = graphql`
  subscription LiveUpdatesMeetingSubscription($id: ID) {
    meetingChanged(id: $id) {
      kind
      meetingId
      meeting {
        ...MeetingCard_meeting
      }
    }
  }
`;

export const connectionChanged = graphql`
  subscription LiveUpdatesConnectionSubscription {
    calendarConnectionChanged {
      kind
      connectionId @deleteRecord
      connection {
        ...ConnectionCard_connection
      }
    }
  }
`;
