// Starts GraphiQL on this page. The endpoints come from the page (same origin as the page):
// GraphQL over HTTP for queries and mutations, graphql-transport-ws for subscriptions.
(function () {
  'use strict';
  const root = document.getElementById('graphiql');
  const url = new URL(root.dataset.endpoint, window.location.origin);
  const ws = new URL(root.dataset.subscriptionEndpoint, window.location.origin);
  ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';
  const fetcher = GraphiQL.createFetcher({
    url: url.toString(),
    subscriptionUrl: ws.toString(),
    fetch: (input, init = {}) => fetch(input, { ...init, credentials: 'same-origin' }),
  });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, { fetcher, defaultEditorToolsVisibility: true }),
  );
})();
