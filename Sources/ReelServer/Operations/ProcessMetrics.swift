import Foundation

/// The standard `process_*` metrics Grafana's dashboards expect (as Prometheus'
/// own clients name them), read from `/proc/self` at each scrape.
enum ProcessMetrics {
    static func exposition(startTime: Date) -> String {
        var lines: [String] = []
        func metric(_ name: String, _ type: String, _ help: String, _ value: Double?) {
            guard let value, value.isFinite else { return }
            lines += ["# HELP \(name) \(help)", "# TYPE \(name) \(type)", "\(name) \(value)"]
        }
        // sysconf answers -1 when it cannot tell: the metrics that need it are then left out.
        let clockTicks = sysconf(Int32(_SC_CLK_TCK)), pageBytes = sysconf(Int32(_SC_PAGESIZE))
        let ticks = clockTicks > 0 ? Double(clockTicks) : .nan
        let page = pageBytes > 0 ? Double(pageBytes) : .nan
        let stat = statFields()
        metric("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.",
               stat.flatMap { fields in
                   guard fields.count > 14, let user = Double(fields[13]), let system = Double(fields[14]) else { return nil }
                   return (user + system) / ticks
               })
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?.split(separator: " ")
        metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
               statm?.first.flatMap { Double($0) }.map { $0 * page })
        metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
               statm.flatMap { $0.count > 1 ? Double($0[1]) : nil }.map { $0 * page })
        metric("process_open_fds", "gauge", "Number of open file descriptors.",
               (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")).map { Double($0.count) })
        var limit = rlimit()
        metric("process_max_fds", "gauge", "Maximum number of open file descriptors.",
               getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : nil)
        metric("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
               stat.flatMap { fields in
                   guard fields.count > 21, let started = Double(fields[21]), let boot = bootTime() else { return nil }
                   return boot + started / ticks
               } ?? startTime.timeIntervalSince1970.rounded())
        return lines.joined(separator: "\n") + "\n"
    }

    /// When the machine booted, from `/proc/stat`'s `btime`.
    private static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }) else { return nil }
        return Double(line.dropFirst(6))
    }

    /// `/proc/self/stat`'s fields after the command name (which may hold spaces), numbered as in proc(5) from 3.
    private static func statFields() -> [String]? {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields 1 (pid) and 2 (comm) are skipped: index 0 here is field 3.
        let rest = text[text.index(after: close)...].split(separator: " ").map(String.init)
        return ["", ""] + rest
    }
}
