import Synchronization

/// Counters shown in `.zodbfs/stats`. Atomics, so the read path never takes
/// a lock to count.
final class Statistics: Sendable {
    let lookups = Atomic<UInt64>(0)
    let getattrs = Atomic<UInt64>(0)
    let readdirs = Atomic<UInt64>(0)
    let opens = Atomic<UInt64>(0)
    let reads = Atomic<UInt64>(0)
    let bytesRead = Atomic<UInt64>(0)
    let cacheHits = Atomic<UInt64>(0)
    let cacheMisses = Atomic<UInt64>(0)
    let chunkTablesBuilt = Atomic<UInt64>(0)
    let openHandles = Atomic<Int64>(0)
    let errors = Atomic<UInt64>(0)
    let transactionsFollowed = Atomic<UInt64>(0)

    /// `name value` lines in Prometheus text exposition format.
    func render() -> String {
        let counters: [(String, String, UInt64)] = [
            ("zodbfs_lookups_total", "lookup requests", lookups.load(ordering: .relaxed)),
            ("zodbfs_getattr_total", "getattr requests", getattrs.load(ordering: .relaxed)),
            ("zodbfs_readdir_total", "readdir requests", readdirs.load(ordering: .relaxed)),
            ("zodbfs_open_total", "open requests", opens.load(ordering: .relaxed)),
            ("zodbfs_read_total", "read requests", reads.load(ordering: .relaxed)),
            ("zodbfs_read_bytes_total", "bytes returned by read", bytesRead.load(ordering: .relaxed)),
            ("zodbfs_node_cache_hits_total", "decoded-object cache hits", cacheHits.load(ordering: .relaxed)),
            ("zodbfs_node_cache_misses_total", "decoded-object cache misses", cacheMisses.load(ordering: .relaxed)),
            ("zodbfs_chunk_tables_built_total", "chunk tables built", chunkTablesBuilt.load(ordering: .relaxed)),
            ("zodbfs_errors_total", "requests answered with an error", errors.load(ordering: .relaxed)),
            ("zodbfs_transactions_followed_total", "transactions picked up from other writers",
             transactionsFollowed.load(ordering: .relaxed)),
        ]
        var out = ""
        for (name, help, value) in counters {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name) \(value)\n"
        }
        out += "# HELP zodbfs_open_handles open file handles\n# TYPE zodbfs_open_handles gauge\n"
        out += "zodbfs_open_handles \(openHandles.load(ordering: .relaxed))\n"
        return out
    }
}
