import Foundation

/// Why data could not be kept on disk.
public enum SpillFileError: Error, CustomStringConvertible, Sendable {
    case cannotCreate(folder: String, reason: String)
    case cannotWrite(reason: String)

    public var description: String {
        switch self {
        case let .cannotCreate(folder, reason): return "cannot create a working file in \(folder): \(reason)"
        case .cannotWrite(let reason): return "cannot write a working file: \(reason)"
        }
    }
}

/// A working file for data too large to hold in memory: created already unlinked (it disappears with the
/// process, however it ends), written at any offset, read back through a few cached blocks so reading in
/// order costs one system call a block.
///
/// `@unchecked Sendable`: the cache is raw memory, which a `Mutex` cannot hand to a caller's buffer under
/// strict concurrency checking; every use of `cache` is inside `lock`, so it is never touched by two threads.
final class SpillFile: @unchecked Sendable {
    private let descriptor: Int32
    /// The cached blocks, side by side in one buffer; `indices[k]` is the block held in place k (-1: none).
    private struct Cache {
        var buffer: UnsafeMutableRawBufferPointer
        var indices: [Int]
        var victim = 0
    }
    private var cache: Cache
    private let lock = NSLock()
    static let blockSize = 1 << 17
    private static let cachedBlocks = 4

    /// A new empty file in `folder` (the disk the caller writes to anyway, not a memory-backed /tmp).
    init(in folder: String) throws(SpillFileError) {
        let pattern = Array((folder + "/.evalkit-spill-XXXXXX").utf8CString)
        // mkstemp writes the name it tried into the template, so each try starts from the pattern.
        var template = pattern
        var fd = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkstemp($0) } ?? -1 }
        // Two or three files a candidate: a run of hundreds of candidates can pass a soft limit of 1,024
        // open files, which the hard limit usually allows raising.
        if fd < 0 && errno == EMFILE && Self.raiseOpenFileLimit() {
            template = pattern
            fd = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkstemp($0) } ?? -1 }
        }
        guard fd >= 0 else { throw .cannotCreate(folder: folder, reason: String(cString: strerror(errno))) }
        let path = template.withUnsafeBufferPointer { $0.baseAddress.map { String(cString: $0) } ?? "" }
        unlink(path)
        descriptor = fd
        cache = Cache(buffer: .allocate(byteCount: Self.blockSize * Self.cachedBlocks, alignment: 16),
                      indices: Array(repeating: -1, count: Self.cachedBlocks))
    }

    /// Raises this process's soft limit of open files to its hard limit; false when it was there already.
    private static func raiseOpenFileLimit() -> Bool {
        #if os(Linux)
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return false }
        limit.rlim_cur = limit.rlim_max
        return setrlimit(resource, &limit) == 0
    }

    deinit {
        close(descriptor)
        cache.buffer.deallocate()
    }

    /// Writes `bytes` at `offset`; blocks read before are dropped from the cache where they overlap.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(SpillFileError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(descriptor, bytes.baseAddress.map { $0 + done }, bytes.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .cannotWrite(reason: String(cString: strerror(n < 0 ? errno : ENOSPC))) }
            done += n
        }
        let first = offset / Self.blockSize, last = (offset + max(bytes.count, 1) - 1) / Self.blockSize
        lock.withLock {
            for k in cache.indices.indices where cache.indices[k] >= first && cache.indices[k] <= last { cache.indices[k] = -1 }
        }
    }

    /// Copies `count` bytes from `offset` into `into`; bytes past the end read as zero.
    func read(at offset: Int, count: Int, into: UnsafeMutableRawBufferPointer) {
        guard let target = into.baseAddress, count <= into.count else { return }
        lock.withLock {
            var copied = 0
            while copied < count {
                let position = offset + copied, index = position / Self.blockSize, within = position % Self.blockSize
                var place = cache.indices.firstIndex(of: index) ?? -1
                if place < 0 {
                    place = cache.victim
                    cache.victim = (cache.victim + 1) % Self.cachedBlocks
                    Self.load(index, from: descriptor, into: UnsafeMutableRawBufferPointer(rebasing: cache.buffer[place * Self.blockSize ..< (place + 1) * Self.blockSize]))
                    cache.indices[place] = index
                }
                let n = min(count - copied, Self.blockSize - within)
                if let base = cache.buffer.baseAddress {
                    (target + copied).copyMemory(from: base + place * Self.blockSize + within, byteCount: n)
                }
                copied += n
            }
        }
    }

    private static func load(_ index: Int, from descriptor: Int32, into block: UnsafeMutableRawBufferPointer) {
        var done = 0
        while done < block.count {
            let n = pread(descriptor, block.baseAddress.map { $0 + done }, block.count - done, off_t(index * Self.blockSize + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        if done < block.count { UnsafeMutableRawBufferPointer(rebasing: block[done...]).initializeMemory(as: UInt8.self, repeating: 0) }
    }
}
