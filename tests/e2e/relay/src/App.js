// The screen's query, and a mutation that adds the new meeting to the list's connection.
import { graphql } from 'react-relay';

export const query = graphql`
  query AppQuery {
    ...MeetingList_query
    calendarConnections {
      id
      ...ConnectionCard_connection
    }
  }
`;

export const schedule = graphql`
  mutation AppScheduleMutation($input: ScheduleMeetingInput!, $connections: [ID!]!) {
    scheduleMeeting(input: $input) {
      meeting @appendNode(connections: $connections, edgeTypeName: "MeetingEdge") {
        ...MeetingCard_meeting
      }
      userErrors {
        code
        field
        message
      }
    }
  }
`;
