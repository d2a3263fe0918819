/**
 * bpf_attr layouts against include/uapi/linux/bpf.h, and the errno → PktmarkError mapping.
 * Expected offsets are the header's (offsetof() of linux-libc-dev 6.1.187's bpf.h, x86-64;
 * the line cited is that header's). They do not depend on the architecture: every field is a
 * fixed-size __u32/__u64 and every __u64 is __aligned_u64.
 */
import test from 'ava';
import {
  BPF_OBJ_NAME_LEN, BPF_MAP_CREATE, BPF_PROG_LOAD, BPF_PROG_GET_FD_BY_ID, BPF_PROG_ATTACH, BPF_MAP_UPDATE_ELEM, BPF_OBJ_GET,
  checkObjName, getIdAttr, infoAttr, mapCreateAttr, mapElemAttr, mapInfo, objAttr, progAttachAttr, progInfo, progLoadAttr,
  progQueryAttr, readCString, readHex, writeObjName,
} from '../../codecs/bpf/attr.js';
import { BpfVerifierError, bpfError } from '../../src/transport/bpf-errors.js';
import { EACCES, EINVAL, ENOENT, EPERM } from '../../src/transport/syscalls.js';

const at = (l: { offsets: Readonly<Record<string, number>> }, ...names: string[]): Record<string, number> =>
  Object.fromEntries(names.map((n) => [n, l.offsets[n]]));

test('BPF_MAP_CREATE: bpf.h:1321-1347 (map_type … map_extra)', (t) => {
  t.deepEqual(at(mapCreateAttr, 'map_type', 'key_size', 'value_size', 'max_entries', 'map_flags', 'inner_map_fd', 'numa_node', 'map_name', 'map_ifindex', 'btf_fd', 'btf_vmlinux_value_type_id', 'map_extra'),
    { map_type: 0, key_size: 4, value_size: 8, max_entries: 12, map_flags: 16, inner_map_fd: 20, numa_node: 24, map_name: 28, map_ifindex: 44, btf_fd: 48, btf_vmlinux_value_type_id: 60, map_extra: 64 });
  t.is(mapCreateAttr.size, 72); // offsetofend(map_extra)
});

test('BPF_MAP_*_ELEM: bpf.h:1351 (map_fd, key, value/next_key, flags; key is __aligned_u64 so 4 bytes of hole)', (t) => {
  t.deepEqual(at(mapElemAttr, 'map_fd', 'key', 'value', 'flags'), { map_fd: 0, key: 8, value: 16, flags: 24 });
  t.is(mapElemAttr.size, 32);
});

test('BPF_PROG_LOAD: bpf.h:1378-1411, log_true_size (6.4) after core_relo_rec_size', (t) => {
  t.deepEqual(at(progLoadAttr, 'prog_type', 'insn_cnt', 'insns', 'license', 'log_level', 'log_size', 'log_buf', 'kern_version', 'prog_flags', 'prog_name', 'prog_ifindex', 'expected_attach_type', 'prog_btf_fd', 'func_info', 'line_info', 'attach_btf_id', 'attach_prog_fd', 'core_relo_cnt', 'fd_array', 'core_relos', 'core_relo_rec_size', 'log_true_size'), {
    prog_type: 0, insn_cnt: 4, insns: 8, license: 16, log_level: 24, log_size: 28, log_buf: 32, kern_version: 40, prog_flags: 44,
    prog_name: 48, prog_ifindex: 64, expected_attach_type: 68, prog_btf_fd: 72, func_info: 80, line_info: 96, attach_btf_id: 108,
    attach_prog_fd: 112, core_relo_cnt: 116, fd_array: 120, core_relos: 128, core_relo_rec_size: 136, log_true_size: 140,
  });
  t.is(progLoadAttr.size, 144); // = sizeof(union bpf_attr) on 6.1, so a 6.1 kernel takes it whole
});

test('BPF_OBJ_*, PROG_ATTACH/DETACH, *_GET_*_ID, OBJ_GET_INFO_BY_FD, PROG_QUERY: bpf.h:1415, 1421, 1457, 1467, 1474', (t) => {
  t.deepEqual(at(objAttr, 'pathname', 'bpf_fd', 'file_flags'), { pathname: 0, bpf_fd: 8, file_flags: 12 });
  t.deepEqual(at(progAttachAttr, 'target_fd', 'attach_bpf_fd', 'attach_type', 'attach_flags', 'replace_bpf_fd'),
    { target_fd: 0, attach_bpf_fd: 4, attach_type: 8, attach_flags: 12, replace_bpf_fd: 16 });
  t.deepEqual(at(getIdAttr, 'id', 'next_id', 'open_flags'), { id: 0, next_id: 4, open_flags: 8 });
  t.deepEqual(at(infoAttr, 'bpf_fd', 'info_len', 'info'), { bpf_fd: 0, info_len: 4, info: 8 });
  t.deepEqual(at(progQueryAttr, 'target_fd', 'attach_type', 'query_flags', 'attach_flags', 'prog_ids', 'prog_cnt', 'prog_attach_flags'),
    { target_fd: 0, attach_type: 4, query_flags: 8, attach_flags: 12, prog_ids: 16, prog_cnt: 24, prog_attach_flags: 32 });
  t.deepEqual([objAttr.size, progAttachAttr.size, getIdAttr.size, infoAttr.size, progQueryAttr.size], [16, 20, 12, 16, 40]);
});

test('struct bpf_prog_info: bpf.h:6202-6241 (tag, lens, map ids, name, run_time_ns, run_cnt …), 232 bytes', (t) => {
  t.deepEqual(at(progInfo, 'type', 'id', 'tag', 'jited_prog_len', 'xlated_prog_len', 'jited_prog_insns', 'xlated_prog_insns', 'load_time', 'created_by_uid', 'nr_map_ids', 'map_ids', 'name', 'ifindex', 'netns_dev', 'netns_ino', 'btf_id', 'nr_prog_tags', 'prog_tags', 'run_time_ns', 'run_cnt', 'recursion_misses', 'verified_insns', 'attach_btf_obj_id', 'attach_btf_id'), {
    type: 0, id: 4, tag: 8, jited_prog_len: 16, xlated_prog_len: 20, jited_prog_insns: 24, xlated_prog_insns: 32, load_time: 40,
    created_by_uid: 48, nr_map_ids: 52, map_ids: 56, name: 64, ifindex: 80, netns_dev: 88, netns_ino: 96, btf_id: 128,
    nr_prog_tags: 180, prog_tags: 184, run_time_ns: 192, run_cnt: 200, recursion_misses: 208, verified_insns: 216,
    attach_btf_obj_id: 220, attach_btf_id: 224,
  });
  t.is(progInfo.size, 232);
});

test('struct bpf_map_info: bpf.h:6245-6261, 88 bytes', (t) => {
  t.deepEqual(at(mapInfo, 'type', 'id', 'key_size', 'value_size', 'max_entries', 'map_flags', 'name', 'ifindex', 'netns_dev', 'netns_ino', 'btf_id', 'btf_value_type_id', 'map_extra'),
    { type: 0, id: 4, key_size: 8, value_size: 12, max_entries: 16, map_flags: 20, name: 24, ifindex: 40, netns_dev: 48, netns_ino: 56, btf_id: 64, btf_value_type_id: 72, map_extra: 80 });
  t.is(mapInfo.size, 88);
});

test('encode writes host-order fields where the header puts them, names NUL-terminated in char[16]', (t) => {
  const a = progLoadAttr.encode({
    prog_type: 3, insn_cnt: 2, insns: 0x1122334455667788n, license: 0x10n, log_level: 1, log_size: 4096, log_buf: 0x20n,
    kern_version: 0, prog_flags: 0, prog_ifindex: 0, expected_attach_type: 2, log_true_size: 0,
  });
  writeObjName(a, progLoadAttr.offsets.prog_name, 'pktmark_x');
  const v = new DataView(a.buffer);
  t.is(v.getUint32(0, true), 3);
  t.is(v.getBigUint64(8, true), 0x1122334455667788n);
  t.is(v.getUint32(28, true), 4096);
  t.is(v.getUint32(68, true), 2);
  t.is(readCString(a, 48, BPF_OBJ_NAME_LEN), 'pktmark_x');
  t.is(a[48 + 9], 0);
  t.is(readHex(new Uint8Array([0, 0xab, 0x10]), 0, 3), '00ab10');
  t.is(progLoadAttr.decode(a).expected_attach_type, 2);
});

test('object names: at most 15 characters of [A-Za-z0-9_.] (bpf_obj_name_cpy), else INVALID_ARGUMENT before any call', (t) => {
  t.notThrows(() => checkObjName('pktmark_0123456'));
  t.notThrows(() => checkObjName(''));
  for (const bad of ['pktmark_01234567', 'pkt-mark', 'a b', 'é', 'x\0']) {
    t.throws(() => checkObjName(bad), { instanceOf: Error, message: /at most 15 characters/ }, bad);
  }
  t.like(t.throws(() => checkObjName('x-y', 'name')), { code: 'INVALID_ARGUMENT', field: 'name' });
});

test('errors: EPERM/EACCES name the operation and the capability it needs', (t) => {
  t.like(bpfError(BPF_PROG_LOAD, EPERM), { code: 'EPERM', errno: 1, message: 'BPF_PROG_LOAD: EPERM (errno 1)' });
  t.regex(bpfError(BPF_PROG_LOAD, EPERM).hint!, /CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN/);
  t.regex(bpfError(BPF_MAP_CREATE, EPERM).hint!, /BPF_MAP_CREATE needs CAP_BPF/);
  t.regex(bpfError(BPF_PROG_GET_FD_BY_ID, EPERM).hint!, /BPF_PROG_GET_FD_BY_ID needs CAP_SYS_ADMIN/);
  t.regex(bpfError(BPF_PROG_ATTACH, EACCES).hint!, /BPF_PROG_ATTACH needs CAP_NET_ADMIN/);
  t.is(bpfError(BPF_PROG_ATTACH, EACCES).code, 'EPERM');
});

test('errors: ENOENT is NOT_FOUND on look-ups (id, path, detach) and SYSCALL elsewhere; others SYSCALL with errno and command', (t) => {
  t.like(bpfError(BPF_PROG_GET_FD_BY_ID, ENOENT, { what: 'of id 7', field: 'id' }), { code: 'NOT_FOUND', field: 'id', errno: 2, message: 'BPF_PROG_GET_FD_BY_ID of id 7: no such object (ENOENT)' });
  t.is(bpfError(BPF_OBJ_GET, ENOENT).code, 'NOT_FOUND');
  t.like(bpfError(BPF_MAP_UPDATE_ELEM, ENOENT), { code: 'SYSCALL', errno: 2 });
  t.like(bpfError(BPF_MAP_CREATE, EINVAL), { code: 'SYSCALL', errno: 22, message: 'BPF_MAP_CREATE: EINVAL (errno 22)' });
  t.like(bpfError(BPF_PROG_LOAD, 524), { code: 'SYSCALL', message: 'BPF_PROG_LOAD: ENOTSUPP (errno 524)' });
});

test('BpfVerifierError: code BPF_VERIFIER, the whole log on .log, the message keeps its tail', (t) => {
  const e = new BpfVerifierError('pm_bad', EACCES, '0: (95) exit\nR0 !read_ok\n', false);
  t.like(e, { code: 'BPF_VERIFIER', errno: 13, log: '0: (95) exit\nR0 !read_ok\n', truncated: false });
  t.regex(e.message, /verifier rejected program "pm_bad" \(EACCES\):\n0: \(95\) exit\nR0 !read_ok$/);
  const long = `${'x'.repeat(20000)}\nR0 !read_ok\n`;
  const big = new BpfVerifierError('pm_big', EACCES, long, true);
  t.is(big.log, long);
  t.true(big.message.length < 9000);
  t.regex(big.message, /\[log truncated\]/);
  t.regex(big.message, /R0 !read_ok$/);
});

test('importing the bpf transport, the fake and the cgroup helpers does not load koffi (dry-run stays native-free)', async (t) => {
  await import('../../src/transport/bpf.js');
  await import('../../src/testing/bpf.js');
  await import('../../src/transport/cgroup.js');
  const { readFileSync } = await import('node:fs');
  t.false(readFileSync('/proc/self/maps', 'utf8').includes('koffi'));
});
