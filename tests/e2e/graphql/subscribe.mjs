// A subscription through graphql-ws's own client (the one under Apollo's GraphQLWsLink, urql's
// subscriptionExchange and Relay's recipe), run by test_graphql_ws_client.py:
//   node subscribe.mjs ws://127.0.0.1:PORT/graphql
// TOKEN is sent in connectionParams as {authorization: "Bearer ..."}, as Apollo's docs show; QUERY and
// VARIABLES (JSON) name the subscription, or DOCUMENT_ID a persisted one (sent as the README's recipes do:
// `query: ""` beside `documentId`). Prints one JSON line per event: {"next": payload} for each
// result, {"closed": code, "reason"} when the server closes the socket, {"error": ...}, {"complete": true};
// stops after COUNT results (then completes the subscription and disposes of the client).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.argv[2];
const count = Number(process.env.COUNT ?? '1');
const print = (event) => console.log(JSON.stringify(event));

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: async () => ({ authorization: `Bearer ${process.env.TOKEN}` }),
  retryAttempts: 0,
  on: {
    connected: () => print({ connected: true }),
    closed: (event) => print({ closed: event.code, reason: event.reason }),
  },
});

let seen = 0;
const unsubscribe = client.subscribe(
  {
    query: process.env.DOCUMENT_ID ? '' : process.env.QUERY,
    ...(process.env.DOCUMENT_ID ? { documentId: process.env.DOCUMENT_ID } : {}),
    variables: JSON.parse(process.env.VARIABLES ?? '{}'),
  },
  {
    next: (payload) => {
      print({ next: payload });
      seen += 1;
      if (seen >= count) {
        unsubscribe();
        client.dispose();
      }
    },
    error: (error) => {
      print({ error: error?.message ?? (Array.isArray(error) ? error : String(error?.code ?? error)) });
      client.dispose();
    },
    complete: () => print({ complete: true }),
  },
);
