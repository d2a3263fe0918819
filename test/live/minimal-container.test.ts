/**
 * The minimal-container proof: the fleet bundle (dist/bundle, made by `npm run bundle`) runs in
 * a mount namespace where /sbin, /usr/sbin and every nft, iptables*, ip6tables*, tc and ip binary
 * on the system are hidden (an empty directory or an empty file bind-mounted over them). In it,
 * apply, list, del, the iptables front and the agent still work: pktmark needs nothing from
 * /sbin. (podman builds images here but cannot run them — crun is refused setrlimit — so the
 * mount namespace stands in for the container.) The results are checked from outside with nft.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { liveTest, withNetns } from '../helpers/netns.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HIDE = /^(nft|iptables.*|ip6tables.*|xtables.*|tc|ip)$/;

/** every such binary in the usual directories (resolved through /bin → usr/bin style links) */
function binaries(): string[] {
  const out = new Set<string>();
  // PATH too: under npm test node_modules/.bin comes first and holds another `nft` (@vercel/nft)
  for (const d of new Set(['/usr/bin', '/usr/local/bin', '/usr/local/sbin', '/bin', ...(process.env.PATH ?? '').split(':').filter((p) => p.startsWith('/') && !p.startsWith('/usr/sbin') && p !== '/sbin')])) {
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) if (HIDE.test(f)) out.add(join(d, f));
  }
  return [...out];
}

liveTest('minimal container: with /sbin, /usr/sbin and every nft/iptables/tc/ip binary hidden, the bundle still applies, lists, deletes, runs the iptables front and the agent', async (t) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'deploy', 'bundle.mjs')], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const work = mkdtempSync(join(tmpdir(), 'pktmark-min-'));
  try {
    // the bundle alone, away from the checkout and its node_modules
    cpSync(join(ROOT, 'dist', 'bundle'), join(work, 'app'), { recursive: true });
    writeFileSync(join(work, 'rules.yaml'), 'rules:\n  - {name: a, src: 10.0.0.1, mark: 1}\n  - {src: 10.0.0.3, mark: 3}\n');
    writeFileSync(join(work, 'agent.yaml'), 'rules:\n  - {name: a, src: 10.0.0.1, mark: 1}\n  - {src: 10.0.0.3, mark: 3}\n  - {src: 10.0.0.4, mark: 4}\n');
    await withNetns(async (ns) => {
      const hide = binaries().map((b) => `mount --bind "$E/empty" "${b}"`).join('\n');
      const node = process.execPath;
      const pm = `"${node}" "${work}/app/pktmark.cjs" --netns ${ns.name}`;
      const script = `set -eu
E=$(mktemp -d); mkdir "$E/dir"; : > "$E/empty"
${hide}
mount --bind "$E/dir" /usr/sbin
for b in nft iptables iptables-nft ip6tables tc ip; do if command -v $b >/dev/null 2>&1; then echo "still visible: $b"; exit 9; fi; done
[ -z "$(ls /sbin)" ] || { echo "/sbin not empty"; exit 9; }
cd "${work}"
${pm} apply -f rules.yaml
${pm} apply -f rules.yaml
${pm} --json list > list.json
${pm} iptables -t raw -A PREROUTING -s 10.0.0.9 -j MARK --set-mark 9
ID=$(${pm} --json list | "${node}" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).rules;process.stdout.write(r.find(x=>x.src==="10.0.0.3/32").id)})')
${pm} del "$ID"
${pm} agent -f agent.yaml --metrics off --resync 1s > agent.log &
A=$!
i=0; until grep -q '"event":"apply"' agent.log; do i=$((i+1)); [ $i -lt 200 ] || { echo "agent did not apply"; exit 9; }; sleep 0.05; done
kill -TERM $A; wait $A
echo done
`;
      const out = execFileSync('/usr/bin/unshare', ['-m', '--propagation', 'private', '/bin/sh', '-c', script], { encoding: 'utf8' });
      t.log(out.trim().split('\n').join(' | '));
      t.regex(out, /2 added, 0 removed, 0 kept/);
      t.regex(out, /0 added, 0 removed, 2 kept/);
      t.regex(out, /done$/m);
      const list = JSON.parse(execFileSync('/bin/cat', [join(work, 'list.json')], { encoding: 'utf8' })) as { rules: unknown[] };
      t.is(list.rules.length, 2);
      // checked from outside, with the real nft: the agent re-added 10.0.0.3 (deleted by del) and 10.0.0.4; the iptables rule stands
      const text = ns.nft('list', 'chain', 'inet', 'pktmark', 'prerouting');
      for (const a of ['10.0.0.1', '10.0.0.3', '10.0.0.4', '10.0.0.9']) t.true(text.includes(`ip saddr ${a} `), a);
    });
  } finally { rmSync(work, { recursive: true, force: true }); }
});
