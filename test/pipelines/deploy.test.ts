/**
 * Offline checks of the deployment files (no Docker engine or cluster here): the Dockerfile's
 * stages and ENV / USER / EXPOSE / ENTRYPOINT, a local replay of its build step (src only),
 * the Kubernetes manifest parsed with `yaml` and its settings fed through the daemon's own
 * config loader, and the systemd unit through `systemd-analyze verify`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import YAML from 'yaml';
import { loadConfig, OPTIONS, type Config } from '../../src/config/options';
import { loadWebConfig } from '../../src/config/web-config';
import { makePki } from '../helpers/hardening';
import { fetchUrl } from '../helpers/http';
import { MAIN_JS, Managed, repoPath, which } from '../helpers/pipelines';
import { tempDir } from '../helpers/tmp';
import { waitFor } from '../helpers/wait';

/** Every environment variable the daemon reads (the option table plus the two the loader reads directly). */
/** Read by the runtime, not the daemon: Node's mode and glibc's malloc tunables (README "Memory"). */
const RUNTIME_ENV = new Set<string>(['NODE_ENV', 'GLIBC_TUNABLES']);

const DAEMON_ENV = new Set<string>([
  ...OPTIONS.flatMap((o) => [o.env, ...(o.envFallback ?? [])]).filter((e): e is string => e !== undefined),
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
]);

function load(argv: string[], env: Record<string, string>): Config {
  const r = loadConfig(argv, env);
  assert.equal(r.kind, 'config');
  return (r as { config: Config }).config;
}

// --- Dockerfile ---------------------------------------------------------------------------

interface Instr {
  op: string;
  arg: string;
  stage: number;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function dockerInstructions(text: string): Instr[] {
  const out: Instr[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\w+)\s+(.*)$/.exec(full);
    assert.ok(m, `unparseable Dockerfile line: ${full}`);
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, arg: m[2]!, stage });
  }
  return out;
}

test('Dockerfile: multi-stage slim Node 20, non-root, PROC_PREFIX, port 9464, capabilities documented', () => {
  const text = fs.readFileSync(repoPath('Dockerfile'), 'utf8');
  const ins = dockerInstructions(text);
  const froms = ins.filter((i) => i.op === 'FROM');
  assert.equal(froms.length, 2, 'build stage + runtime stage');
  const nodeImage = ins.find((i) => i.op === 'ARG' && i.arg.startsWith('NODE_IMAGE='))!.arg.split('=')[1]!;
  assert.match(nodeImage, /^node:20(\.\d+)*-(bookworm-)?slim$/);
  assert.match(froms[0]!.arg, /^\$\{NODE_IMAGE\} AS build$/i);
  const final = ins.filter((i) => i.stage === 1);

  const env = new Map<string, string>();
  for (const e of final.filter((i) => i.op === 'ENV')) {
    for (const kv of e.arg.split(/\s+/)) {
      const [k, v] = kv.split('=');
      env.set(k!, v!);
    }
  }
  assert.equal(env.get('PROC_PREFIX'), '/host/proc');
  for (const k of env.keys()) assert.ok(DAEMON_ENV.has(k) || RUNTIME_ENV.has(k), `ENV ${k} is not read by the daemon`);

  const users = final.filter((i) => i.op === 'USER');
  assert.equal(users.length, 1);
  const uid = users[0]!.arg.split(':')[0]!;
  assert.match(uid, /^\d+$/, 'numeric USER, so Kubernetes runAsNonRoot can verify it');
  assert.notEqual(Number(uid), 0, 'the image runs as non-root by default');

  assert.deepEqual(final.filter((i) => i.op === 'EXPOSE').map((i) => i.arg), ['9464']);
  const defaultListen = String(OPTIONS.find((o) => o.key === 'listenAddress')!.def);
  assert.equal(defaultListen, ':9464', 'EXPOSE follows the daemon default');

  const entry = JSON.parse(final.find((i) => i.op === 'ENTRYPOINT')!.arg) as string[];
  // node, the daemon's V8 flags (test/architecture/launchers.test.ts), the compiled entry point
  assert.equal(entry[0], 'node');
  assert.equal(entry[entry.length - 1], '/app/dist/src/main.js');
  assert.ok(entry.slice(1, -1).every((a) => a.startsWith('--')), `only node flags between: ${entry.join(' ')}`);
  assert.ok(final.some((i) => i.op === 'COPY' && i.arg.includes('/src/dist/src ./dist/src')), 'runtime stage copies the compiled daemon');
  assert.ok(final.some((i) => i.op === 'HEALTHCHECK' && i.arg.includes('/healthz')));
  assert.ok(!final.some((i) => i.op === 'COPY' && /\btest\b/.test(i.arg)), 'no test code in the image');

  // Build-stage inputs exist in the repository and are not excluded by .dockerignore.
  const ignore = fs.readFileSync(repoPath('.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const c of ins.filter((i) => i.stage === 0 && i.op === 'COPY')) {
    const srcs = c.arg.split(/\s+/).slice(0, -1);
    for (const s of srcs) {
      assert.ok(fs.existsSync(repoPath(s)), `COPY ${s}: missing in the repository`);
      assert.ok(!ignore.includes(s) && !ignore.includes(s.replace(/\/$/, '')), `COPY ${s} is excluded by .dockerignore`);
    }
  }
  for (const x of ['node_modules', 'dist', '.git', 'test']) assert.ok(ignore.includes(x), `.dockerignore should exclude ${x}`);

  // What a user must know to run it, stated in the file.
  for (const must of ['--pid=host', '--network=host', '/proc:/host/proc:ro', 'SYS_PTRACE', 'DAC_READ_SEARCH', 'CAP_NET_RAW', '--cap-drop=ALL']) {
    assert.ok(text.includes(must), `Dockerfile comments should explain ${must}`);
  }

  // The image's environment is a valid configuration of the daemon.
  const c = load([], Object.fromEntries(env));
  assert.equal(c.procfs, '/host/proc');
  assert.equal(c.listenAddress, ':9464');
});

test('Dockerfile build step replayed locally: src/ alone compiles to the ENTRYPOINT, which starts', () => {
  // The build stage copies package files, tsconfig.json and src/ only (no test/, bench/),
  // then runs `npx tsc -p tsconfig.json`. Replay that on a copy with the repo's node_modules.
  const dir = tempDir('docker-build').dir;
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json']) fs.copyFileSync(repoPath(f), path.join(dir, f));
  fs.cpSync(repoPath('src'), path.join(dir, 'src'), { recursive: true });
  fs.symlinkSync(repoPath('node_modules'), path.join(dir, 'node_modules'), 'dir');
  const tsc = spawnSync(process.execPath, [repoPath('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  assert.equal(tsc.status, 0, `tsc on src/ only failed:\n${tsc.stdout}${tsc.stderr}`);
  assert.ok(fs.existsSync(path.join(dir, 'dist', 'src', 'main.js')));
  assert.ok(!fs.existsSync(path.join(dir, 'dist', 'test')), 'no test output in the image');
  const run = spawnSync(process.execPath, [path.join(dir, 'dist', 'src', 'main.js'), '--version'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^otel-host-receiver \d+\.\d+\.\d+/);
});

// --- Kubernetes ---------------------------------------------------------------------------

interface K8sProbe {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
}

interface K8sContainer {
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  ports?: Array<{ name: string; containerPort: number }>;
  livenessProbe?: K8sProbe;
  readinessProbe?: K8sProbe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { runAsUser?: number; privileged?: boolean; allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { add?: string[]; drop?: string[] } };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
}

test('Kubernetes DaemonSet: host namespaces, /proc mount, probes, scrape annotations, OTLP from env', () => {
  const docs = YAML.parseAllDocuments(fs.readFileSync(repoPath('deploy', 'kubernetes', 'daemonset.yaml'), 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, [], 'YAML errors');
  const objs = docs.map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string }; data?: Record<string, string>; spec?: unknown });
  const ds = objs.find((o) => o.kind === 'DaemonSet') as unknown as {
    metadata: { namespace: string };
    spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: { hostPID: boolean; hostNetwork: boolean; dnsPolicy: string; containers: K8sContainer[]; volumes: Array<{ name: string; hostPath?: { path: string } }> } } };
  };
  assert.ok(ds, 'a DaemonSet');
  const pod = ds.spec.template.spec;
  for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) assert.equal(ds.spec.template.metadata.labels[k], v, 'selector matches the pod labels');
  assert.equal(pod.hostPID, true);
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet', 'hostNetwork pods need it to resolve the Collector service');
  assert.equal(pod.containers.length, 1);
  const c = pod.containers[0]!;

  // /proc of the node, read-only, where PROC_PREFIX points.
  const procVol = pod.volumes.find((v) => v.hostPath?.path === '/proc');
  assert.ok(procVol, 'hostPath /proc volume');
  const mount = c.volumeMounts!.find((m) => m.name === procVol.name)!;
  assert.equal(mount.readOnly, true);
  const env = new Map((c.env ?? []).map((e) => [e.name, e]));
  assert.equal(env.get('PROC_PREFIX')?.value, mount.mountPath);
  assert.equal(mount.mountPath, '/host/proc');

  // Every variable set is one the daemon reads (or a helper only used for $(...) substitution).
  const cmName = c.envFrom?.[0]?.configMapRef?.name;
  const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cmName);
  assert.ok(cm?.data, 'envFrom ConfigMap is in the manifest');
  const helpers = new Set(['K8S_NODE_NAME', 'K8S_POD_NAME']);
  for (const name of [...env.keys(), ...Object.keys(cm.data)]) assert.ok(DAEMON_ENV.has(name) || helpers.has(name), `${name} is not read by the daemon`);
  assert.match(cm.data.OTEL_EXPORTER_OTLP_ENDPOINT ?? '', /^http:\/\/.+:4318$/, 'OTLP endpoint comes from the environment');

  // The container's effective configuration, as the daemon itself would load it.
  const resolved: Record<string, string> = { ...cm.data, K8S_NODE_NAME: 'node-a', K8S_POD_NAME: 'pod-a' };
  for (const e of c.env ?? []) if (e.value !== undefined) resolved[e.name] = e.value.replace(/\$\((\w+)\)/g, (_, v: string) => resolved[v] ?? '');
  const cfg = load(c.args ?? [], resolved);
  assert.equal(cfg.procfs, '/host/proc');
  assert.equal(cfg.otlpEndpoint, 'http://otel-collector.monitoring.svc:4318/v1/metrics');
  assert.deepEqual(cfg.exporters, ['prometheus', 'otlp']);
  assert.equal(cfg.resourceAttributes['k8s.node.name'], 'node-a');
  const port = Number(cfg.listenAddress.split(':').pop());

  // Probes and scraping point at the port the daemon listens on.
  const metricsPort = c.ports!.find((p) => p.containerPort === port);
  assert.ok(metricsPort, `containerPort ${port}`);
  for (const probe of [c.livenessProbe, c.readinessProbe]) {
    // with a web config every path, /healthz included, needs credentials the kubelet does not have
    if (cfg.webConfigFile === undefined) assert.equal(probe?.httpGet?.path, '/healthz');
    const target = cfg.webConfigFile === undefined ? probe?.httpGet?.port : probe?.tcpSocket?.port;
    assert.ok(target === metricsPort.name || target === port, 'probes check the metrics port');
  }
  const ann = ds.spec.template.metadata.annotations;
  assert.equal(ann['prometheus.io/scrape'], 'true');
  assert.equal(ann['prometheus.io/port'], String(port));
  assert.equal(ann['prometheus.io/path'], cfg.telemetryPath);

  assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory, 'requests and a memory limit');
  const sc = c.securityContext!;
  assert.deepEqual(sc.capabilities?.drop, ['ALL']);
  assert.deepEqual([...(sc.capabilities?.add ?? [])].sort(), ['DAC_READ_SEARCH', 'SYS_PTRACE']);
  assert.equal(sc.privileged, false);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.equal(sc.readOnlyRootFilesystem, true);
});

type K8sObject = { kind: string; metadata: { name: string; namespace?: string }; data?: Record<string, string> };
interface ProjectedSource {
  configMap?: { name: string; items?: Array<{ key: string; path: string }> };
  secret?: { name: string; items?: Array<{ key: string; path: string }> };
}

test('Kubernetes DaemonSet: mutual TLS by default; the shipped web config loads with the daemon\'s loader where the manifest mounts it', async () => {
  const docs = YAML.parseAllDocuments(fs.readFileSync(repoPath('deploy', 'kubernetes', 'daemonset.yaml'), 'utf8'));
  const objs = docs.map((d) => d.toJS() as K8sObject);
  const ds = objs.find((o) => o.kind === 'DaemonSet') as unknown as {
    spec: { template: { metadata: { annotations: Record<string, string> }; spec: { containers: K8sContainer[]; volumes: Array<{ name: string; projected?: { sources: ProjectedSource[] } }> } } };
  };
  const pod = ds.spec.template.spec;
  const c = pod.containers[0]!;
  const cmName = c.envFrom?.[0]?.configMapRef?.name;
  const env = { ...objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cmName)?.data };
  const cfg = load(c.args ?? [], env);
  assert.ok(cfg.webConfigFile, 'the DaemonSet serves :9464 on the node network: it must ship a web config (--web.config.file)');
  assert.ok(!/^(127\.|\[::1\]|localhost)/.test(cfg.listenAddress), 'listens on the node addresses (else the web config would be optional)');

  // The file --web.config.file names is in a read-only mount, projected from a ConfigMap of this manifest.
  const dir = path.posix.dirname(cfg.webConfigFile);
  const mount = c.volumeMounts!.find((m) => m.mountPath === dir);
  assert.ok(mount, `a volume is mounted at ${dir}`);
  assert.equal(mount.readOnly, true);
  const volume = pod.volumes.find((v) => v.name === mount.name);
  assert.ok(volume?.projected, `volume ${mount.name} is a projected volume`);
  const provided = new Map<string, { kind: 'configMap' | 'secret'; name: string; key: string }>();
  for (const src of volume.projected.sources) {
    for (const kind of ['configMap', 'secret'] as const) {
      const ref = src[kind];
      for (const item of ref?.items ?? []) provided.set(item.path, { kind, name: ref!.name, key: item.key });
    }
  }
  const webFile = provided.get(path.posix.basename(cfg.webConfigFile));
  assert.equal(webFile?.kind, 'configMap', 'the web config comes from a ConfigMap');
  const webYaml = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === webFile.name)?.data?.[webFile.key];
  assert.ok(webYaml, `ConfigMap ${webFile.name} with key ${webFile.key} is in the manifest`);

  // Every file it names sits beside it, projected from the Secret the operator creates.
  const tlsRaw = (YAML.parse(webYaml) as { tls_server_config?: Record<string, string> }).tls_server_config;
  assert.ok(tlsRaw, 'TLS is on');
  const pki = makePki(tempDir('deploy-pki').dir);
  const material: Record<string, string> = { cert_file: pki.serverCert, key_file: pki.serverKey, client_ca_file: pki.caCert };
  const work = tempDir('deploy-web').dir;
  for (const [field, source] of Object.entries(material)) {
    const rel: string | undefined = tlsRaw[field];
    assert.ok(rel && !path.isAbsolute(rel), `tls_server_config.${field} is relative to the web config`);
    assert.equal(provided.get(rel)?.kind, 'secret', `${rel} is projected from a Secret`);
    fs.copyFileSync(source, path.join(work, rel));
  }
  const webPath = path.join(work, path.posix.basename(cfg.webConfigFile));
  fs.writeFileSync(webPath, webYaml);

  const web = await loadWebConfig(webPath);
  assert.equal(web.tls?.clientAuth, 'RequireAndVerifyClientCert', 'only clients with a certificate from the CA are answered');
  assert.equal(ds.spec.template.metadata.annotations['prometheus.io/scheme'], 'https');

  // The daemon started with the manifest's arguments and that web config: only a client with a certificate gets data.
  const args = (c.args ?? []).map((a) =>
    a.startsWith('--web.listen-address') ? '--web.listen-address=127.0.0.1:0' : a.startsWith('--web.config.file') ? `--web.config.file=${webPath}` : a,
  );
  const d = new Managed(
    'otel-host-receiver',
    spawn(process.execPath, [MAIN_JS, ...args, '--no-collector.namedprocess'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, OTEL_METRICS_EXPORTER: 'prometheus' },
    }),
  );
  try {
    const port = await waitFor('serving', () => {
      if (!d.running) throw new Error(`daemon exited:\n${d.output()}`);
      return /msg=serving .*address=[^ ]*:(\d+)/.exec(d.output())?.[1];
    });
    const url = `https://127.0.0.1:${port}/metrics`;
    const withCert = await fetchUrl(url, { ca: pki.pem.ca, cert: pki.pem.clientCert, key: pki.pem.clientKey, servername: 'localhost' });
    assert.ok(withCert.ok && withCert.res.status === 200 && withCert.res.body.includes('otel_host_receiver_'), `client certificate: ${JSON.stringify(withCert)}`);
    const noCert = await fetchUrl(url, { ca: pki.pem.ca, servername: 'localhost' });
    assert.ok(!noCert.ok || noCert.res.status !== 200, 'no client certificate: no data');
    const plain = await fetchUrl(`http://127.0.0.1:${port}/metrics`);
    assert.ok(!plain.ok || !plain.res.body.includes('otel_host_receiver_'), 'plain HTTP: no data');
    // what the kubelet's tcpSocket probes do
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(Number(port), '127.0.0.1', () => {
        s.destroy();
        resolve();
      });
      s.once('error', reject);
    });
    assert.ok(d.running, d.output());
  } finally {
    await d.stop();
  }
});

// --- systemd ------------------------------------------------------------------------------

test('systemd unit: capabilities instead of root; systemd-analyze verify', (t) => {
  const unitPath = repoPath('deploy', 'systemd', 'otel-host-receiver.service');
  const text = fs.readFileSync(unitPath, 'utf8');
  const service = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    if (section === 'Service') service.set(line.slice(0, eq), [...(service.get(line.slice(0, eq)) ?? []), line.slice(eq + 1)]);
  }
  const one = (k: string): string | undefined => service.get(k)?.[0];
  assert.equal(one('AmbientCapabilities'), 'CAP_SYS_PTRACE CAP_DAC_READ_SEARCH');
  assert.equal(one('CapabilityBoundingSet'), 'CAP_SYS_PTRACE CAP_DAC_READ_SEARCH');
  assert.ok(!text.match(/^[^#]*CAP_NET_RAW/m), 'CAP_NET_RAW is not needed');
  assert.ok(one('DynamicUser') === 'yes' || (one('User') !== undefined && one('User') !== 'root'), 'runs as an unprivileged user');
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.ok(!service.has('ProtectProc') && !service.has('ProcSubset') && !service.has('PrivateNetwork'), 'must not hide /proc or the host network');
  assert.match(one('ExecStart') ?? '', /\/dist\/src\/main\.js$/);
  for (const env of service.get('Environment') ?? []) {
    const name = env.split('=')[0]!;
    assert.ok(DAEMON_ENV.has(name) || RUNTIME_ENV.has(name), `Environment ${name} is not read by the daemon`);
  }

  const analyze = which('systemd-analyze');
  if (!analyze) {
    t.skip('systemd-analyze is not installed (Debian package "systemd"); the unit was only checked textually');
    return;
  }
  // verify checks every directive name and value and that ExecStart's binary (/usr/bin/node)
  // exists. Warnings go to stderr without failing the exit code, so both are checked.
  const nodeOnPath = fs.existsSync('/usr/bin/node');
  let target = unitPath;
  if (!nodeOnPath) {
    // node lives elsewhere on this machine: verify a copy that names this node binary.
    const dir = tempDir('systemd').dir;
    target = path.join(dir, 'otel-host-receiver.service');
    fs.writeFileSync(target, text.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
  }
  const r = spawnSync(analyze, ['verify', target], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, SYSTEMD_LOG_TARGET: 'console', SYSTEMD_LOG_COLOR: '0' } });
  if (r.error || /Failed to (initialize|connect|create)|Operation not permitted/i.test(r.stderr)) {
    t.skip(`systemd-analyze verify cannot run in this sandbox: ${r.error?.message ?? r.stderr.split('\n')[0]}`);
    return;
  }
  assert.equal(r.status, 0, `systemd-analyze verify failed:\n${r.stdout}${r.stderr}`);
  assert.equal(r.stderr.trim(), '', `systemd-analyze verify warned:\n${r.stderr}`);
});
