// One meeting (useRefetchableFragment): refetched through node(id:), participants keyed by their ids.
import { graphql } from 'react-relay';

export const fragment = graphql`
  fragment MeetingCard_meeting on Meeting @refetchable(queryName: "MeetingCardRefetchQuery") {
    id
    title
    start
    end
    status
    participants {
      id
      email
      displayName
      isOrganizer
      response
      calendarEvent {
        id
        delivery
        status
        lastError
      }
    }
  }
`;
