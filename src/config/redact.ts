/**
 * What we print of an endpoint URL. OTLP endpoints often carry credentials
 * (`https://user:token@host/...`, `?api_key=...`), and every place that shows
 * an endpoint (the `serving` and `OTLP export failing` log lines, the status
 * page, /api/status) must show where data goes without what lets someone else
 * send it there. User info becomes `***`, every query value becomes `***`
 * (the keys stay, they say which kind of credential is configured), and a
 * fragment is dropped.
 */
export function redactUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return '(an unparseable URL)';
  }
  const userinfo = u.username !== '' || u.password !== '' ? '***@' : '';
  const keys = [...new Set([...u.searchParams.keys()])];
  const query = keys.length > 0 ? `?${keys.map((k) => `${encodeURIComponent(k)}=***`).join('&')}` : '';
  return `${u.protocol}//${userinfo}${u.host}${u.pathname}${query}`;
}

/** Replaces every URL inside free text (an error message) by its redacted form. */
export function redactUrlsIn(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (m) => redactUrl(m));
}
