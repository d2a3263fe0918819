/** eBPF without a compiler: instruction builders by class, assemble(), the disassembler, and the generated mark programs. */
export * from './insn.js';
export * from './alu.js';
export * from './jump.js';
export * from './load-store.js';
export * from './helpers.js';
export * from './asm.js';
export * from './disasm.js';
export * from './programs/index.js';
