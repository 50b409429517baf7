/** Endpoints and headers carry credentials: what we print of them never does. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/options';
import { redactUrl, redactUrlsIn } from '../../src/config/redact';
import { describeExportError } from '../../src/export/otlp';

function errorOf(argv: string[], env: Record<string, string>): ConfigError {
  try {
    loadConfig(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

test('redactUrl keeps where data goes and drops user info, query values and fragment', () => {
  assert.equal(redactUrl('http://u:secret@collector:4318/v1/metrics?api_key=K&x=1#frag'), 'http://***@collector:4318/v1/metrics?api_key=***&x=***');
  assert.equal(redactUrl('https://collector.example/v1/metrics'), 'https://collector.example/v1/metrics');
  assert.equal(redactUrl('http://onlyuser@h/p'), 'http://***@h/p');
  assert.equal(redactUrl('not a url'), '(an unparseable URL)');
  assert.equal(redactUrlsIn('connect to http://a:b@h:1/x?k=v failed'), 'connect to http://***@h:1/x?k=*** failed');
});

test('a malformed header list names the item or key, never a value', () => {
  for (const [raw, re] of [
    ['authorization=Bearer%20ok,Bearer%20SECRETTOKEN', /item 2 is not key=value/],
    ['x-api-key=%E0%A4%A', /the value of "x-api-key" is not valid percent-encoding/],
  ] as const) {
    for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_METRICS_HEADERS']) {
      const err = errorOf([], { [name]: raw });
      assert.equal(err.key, name);
      assert.match(err.message, re);
      assert.ok(!err.message.includes('SECRETTOKEN') && !err.message.includes('%E0') && !err.message.includes('Bearer'), err.message);
    }
  }
  const flag = errorOf(['--otlp.headers=k=v,SECRETTOKEN'], {});
  assert.equal(flag.key, '--otlp.headers');
  assert.ok(!flag.message.includes('SECRETTOKEN'), flag.message);
});

test('an invalid endpoint is named with its credentials redacted', () => {
  const err = errorOf([], { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'ftp://u:pw@h/v1/metrics?k=SECRET' });
  assert.equal(err.key, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT');
  assert.ok(!/pw|SECRET|u:/.test(err.message), err.message);
  assert.match(err.message, /ftp:\/\/\*\*\*@h\/v1\/metrics\?k=\*\*\*/);
  const base = errorOf([], { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://u:pw@h?k=SECRET' });
  assert.ok(!/pw|SECRET/.test(base.message), base.message);
  // options that hold no credential still echo what was given
  assert.match(errorOf([], { PORT_STATUS_INTERVAL: 'soon' }).message, /"soon"/);
});

test('export errors: HTTP status and the start of the answer, URLs redacted', () => {
  const httpError = Object.assign(new Error('Bad Request'), { code: 400, data: `json encoding isn't supported\n${'x'.repeat(500)}` });
  const d = describeExportError(httpError);
  assert.match(d, /^HTTP 400 json encoding isn't supported x+$/);
  assert.ok(d.length <= 'HTTP 400 '.length + 200);
  assert.equal(describeExportError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })), 'connect ECONNREFUSED 127.0.0.1:9');
  assert.equal(describeExportError(new Error('request to http://u:p@h/x?k=v failed')), 'request to http://***@h/x?k=*** failed');
  assert.match(describeExportError(new Error('Export failed with retryable status')), /retryable HTTP status/);
});
