import Storage
import Synchronization

/// Counters shown in `.zodbfs/stats`. Atomics, so the read path never takes
/// a lock to count; only the commit latency histogram has one.
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
    let writes = Atomic<UInt64>(0)
    let bytesWritten = Atomic<UInt64>(0)
    let commits = Atomic<UInt64>(0)
    let committedBytes = Atomic<UInt64>(0)
    /// Commit latency histogram: counts per bucket of ``latencyBounds``
    /// (cumulative when rendered). A lock, taken once per commit, is cheap
    /// next to the fsync every commit waits for.
    let latencyBuckets = Guarded([UInt64](repeating: 0, count: Statistics.latencyBounds.count + 1))
    /// Sum of commit latencies in microseconds.
    let latencyMicroseconds = Atomic<UInt64>(0)

    /// Upper bounds (seconds) of the commit latency buckets.
    static let latencyBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    func recordCommit(bytes: UInt64, seconds: Double) {
        commits.add(1, ordering: .relaxed)
        committedBytes.add(bytes, ordering: .relaxed)
        latencyMicroseconds.add(UInt64(max(0, seconds) * 1e6), ordering: .relaxed)
        let bucket = Self.latencyBounds.firstIndex { seconds <= $0 } ?? Self.latencyBounds.count
        latencyBuckets.withLock { $0[bucket] += 1 }
    }

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
            ("zodbfs_write_total", "write requests", writes.load(ordering: .relaxed)),
            ("zodbfs_write_bytes_total", "bytes received by write", bytesWritten.load(ordering: .relaxed)),
            ("zodbfs_commits_total", "transactions committed", commits.load(ordering: .relaxed)),
            ("zodbfs_commit_bytes_total", "bytes of committed transactions", committedBytes.load(ordering: .relaxed)),
        ]
        var out = ""
        for (name, help, value) in counters {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name) \(value)\n"
        }
        out += "# HELP zodbfs_open_handles open file handles\n# TYPE zodbfs_open_handles gauge\n"
        out += "zodbfs_open_handles \(openHandles.load(ordering: .relaxed))\n"
        out += "# HELP zodbfs_commit_seconds time from a change's request to its durable commit\n"
        out += "# TYPE zodbfs_commit_seconds histogram\n"
        let buckets = latencyBuckets.withLock { $0 }
        var cumulative: UInt64 = 0
        for (i, bound) in Self.latencyBounds.enumerated() {
            cumulative += buckets[i]
            out += "zodbfs_commit_seconds_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        cumulative += buckets[Self.latencyBounds.count]
        out += "zodbfs_commit_seconds_bucket{le=\"+Inf\"} \(cumulative)\n"
        out += "zodbfs_commit_seconds_sum \(Double(latencyMicroseconds.load(ordering: .relaxed)) / 1e6)\n"
        // From the buckets, not the commit counter: read apart, the two
        // could disagree in a scrape taken during a commit.
        out += "zodbfs_commit_seconds_count \(cumulative)\n"
        return out
    }
}
