// Where every buffer a kernel touches comes from: the wasm module has no allocator of its own
// ("the host decides, the kernels compute"). Heap is a first-fit allocator over the runtime's own
// memory, which grows only when no free range is large enough; ForeignHeap borrows the malloc of
// another module whose memory a guest runtime shares (core/guest.ts).

const PAGE = 65536;
const ALIGN = 16;
const MAX_BYTES = 65536 * PAGE; // 4 GiB, the wasm32 limit

interface Range { start: number; size: number }

/** What layers and scratch buffers allocate from: 16-byte aligned byte offsets into memory. */
export interface Allocator {
  alloc(bytes: number): number;
  release(ptr: number): void;
  /** Bytes currently allocated. */
  readonly usedBytes: number;
}

export class Heap implements Allocator {
  private readonly free: Range[] = []; // sorted by start, coalesced
  private readonly used = new Map<number, number>(); // start -> size

  constructor(private readonly memory: WebAssembly.Memory, base: number) {
    const start = alignUp(base);
    this.free.push({ start, size: memory.buffer.byteLength - start });
  }

  get usedBytes(): number {
    let n = 0;
    for (const s of this.used.values()) n += s;
    return n;
  }

  alloc(bytes: number): number {
    const size = alignUp(Math.max(bytes, ALIGN));
    let i = this.free.findIndex((r) => r.size >= size);
    if (i < 0) i = this.grow(size);
    const r = this.free[i];
    const start = r.start;
    if (r.size === size) this.free.splice(i, 1);
    else { r.start += size; r.size -= size; }
    this.used.set(start, size);
    return start;
  }

  release(ptr: number): void {
    const size = this.used.get(ptr);
    if (size === undefined) throw new Error(`dsconv internal: release of unknown pointer ${ptr}`);
    this.used.delete(ptr);
    let i = 0;
    while (i < this.free.length && this.free[i].start < ptr) i++;
    this.free.splice(i, 0, { start: ptr, size });
    // Coalesce with the neighbours.
    if (i + 1 < this.free.length && ptr + size === this.free[i + 1].start) {
      this.free[i].size += this.free[i + 1].size;
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1].start + this.free[i - 1].size === ptr) {
      this.free[i - 1].size += this.free[i].size;
      this.free.splice(i, 1);
    }
  }

  /** Grows memory so that a free range of `size` bytes exists at the end; returns its index. */
  private grow(size: number): number {
    const end = this.memory.buffer.byteLength;
    const last = this.free[this.free.length - 1];
    const tail = last && last.start + last.size === end ? last.size : 0;
    const pages = Math.ceil((size - tail) / PAGE);
    if (end + pages * PAGE > MAX_BYTES) {
      throw new RangeError(`dsconv needs ${size} more bytes of wasm memory, beyond the 4 GiB limit; use a smaller batch or input`);
    }
    try {
      this.memory.grow(pages);
    } catch {
      throw new RangeError(`dsconv could not grow wasm memory by ${pages * PAGE} bytes (out of memory)`);
    }
    if (tail > 0) last.size += pages * PAGE;
    else this.free.push({ start: end, size: pages * PAGE });
    return this.free.length - 1;
  }
}

/**
 * Allocations from another module's malloc and free, over the memory both use. Its malloc may
 * align to 8 only, so each block asks ALIGN - 1 bytes more and starts at the next multiple.
 */
export class ForeignHeap implements Allocator {
  private readonly used = new Map<number, { raw: number; size: number }>();

  constructor(private readonly malloc: (bytes: number) => number, private readonly free: (ptr: number) => void) {}

  get usedBytes(): number {
    let n = 0;
    for (const u of this.used.values()) n += u.size;
    return n;
  }

  alloc(bytes: number): number {
    const size = alignUp(Math.max(bytes, ALIGN));
    const raw = this.malloc(size + ALIGN - 1);
    if (!raw) throw new RangeError(`dsconv could not allocate ${size} bytes from the host module's heap (out of memory)`);
    const ptr = alignUp(raw);
    this.used.set(ptr, { raw, size });
    return ptr;
  }

  release(ptr: number): void {
    const u = this.used.get(ptr);
    if (u === undefined) throw new Error(`dsconv internal: release of unknown pointer ${ptr}`);
    this.used.delete(ptr);
    this.free(u.raw);
  }
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/**
 * A buffer that is reused across calls and only reallocated when a call needs more than it has
 * (a high-water mark), so steady-state calls allocate nothing.
 */
export class Scratch {
  ptr = 0;
  size = 0;
  constructor(private readonly heap: Allocator) {}

  ensure(bytes: number): number {
    if (bytes > this.size) {
      if (this.size > 0) this.heap.release(this.ptr);
      this.ptr = 0;
      this.size = 0;
      this.ptr = this.heap.alloc(bytes);
      this.size = bytes;
    }
    return this.ptr;
  }

  dispose(): void {
    if (this.size > 0) this.heap.release(this.ptr);
    this.ptr = 0;
    this.size = 0;
  }
}
