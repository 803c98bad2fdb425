// A paginated list of meetings (usePaginationFragment): @connection on `meetings`, refetchable on Query.
import { graphql } from 'react-relay';

export const fragment = graphql`
  fragment MeetingList_query on Query
  @refetchable(queryName: "MeetingListPaginationQuery")
  @argumentDefinitions(
    first: { type: "Int", defaultValue: 20 }
    after: { type: "String" }
    filter: { type: "MeetingFilter" }
  ) {
    meetings(first: $first, after: $after, filter: $filter)
      @connection(key: "MeetingList_meetings", filters: ["filter"]) {
      edges {
        node {
          id
          ...MeetingCard_meeting
        }
      }
    }
  }
`;
