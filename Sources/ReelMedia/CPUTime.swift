import Glibc

/// CPU time spent so far, as the kernel counts it: what a piece of work really
/// cost, however busy the machine was while it ran.
public enum CPUTime {
    /// The calling thread's CPU time; nil when the kernel cannot tell.
    public static func thread() -> Duration? { read(CLOCK_THREAD_CPUTIME_ID) }

    /// The CPU time of every thread of the process.
    public static func process() -> Duration? { read(CLOCK_PROCESS_CPUTIME_ID) }

    private static func read(_ clock: clockid_t) -> Duration? {
        var time = timespec()
        guard clock_gettime(clock, &time) == 0 else { return nil }
        return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
    }

    /// The CPU time `body` took on the calling thread (zero when it cannot be read).
    @discardableResult
    static func measure<Result>(_ spent: inout Duration, _ body: () throws -> Result) rethrows -> Result {
        let start = thread()
        defer { if let start, let end = thread() { spent += end - start } }
        return try body()
    }
}
