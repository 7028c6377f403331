/** The kinds the http component handles: one server, its routers, their endpoints. */
export const HttpKind = {
  service: 'http.service',
  router: 'http.router',
  endpoint: 'http.endpoint',
} as const;

/** Every kind of {@link HttpKind}: what the `http.*` listener declares it knows. */
export const HTTP_KINDS: readonly string[] = Object.values(HttpKind);
