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
    static func measure<Result>(_ spent: inout Duration, _ body: () throws -> Result) rethrows -> Result {
        let start = thread()
        defer { if let start, let end = thread() { spent += end - start } }
        return try body()
    }
}

/// Scheduling of the calling thread.
enum ThreadPriority {
    /// Makes the calling thread yield the CPU to the process's other threads
    /// (`nice` applies per thread on Linux): encoders run on what frames'
    /// decoding and HTTP leave, so uploads are answered quickly even when every
    /// core is encoding; a short queue absorbs the wait. False when refused.
    @discardableResult
    static func lowerCallingThread(by steps: Int32 = 5) -> Bool {
        // On Linux, PRIO_PROCESS with id 0 is the calling thread alone.
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        errno = 0
        let current = getpriority(which, 0)
        guard errno == 0 else { return false }
        return setpriority(which, 0, min(current + steps, 19)) == 0
    }

    /// The calling thread's nice value.
    static var current: Int32 { getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
}
