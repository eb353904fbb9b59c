import Foundation

/// One complete movie fragment (`moof` + `mdat`) of a fragmented MP4, where it lies in the file.
public struct Fragment: Equatable, Sendable {
    public var offset: Int
    public var length: Int
    /// Seconds of video it holds.
    public var duration: Double
    /// Its first frame is a keyframe: a player can start decoding here.
    public var startsWithKeyframe: Bool

    public var end: Int { offset + length }

    public init(offset: Int, length: Int, duration: Double, startsWithKeyframe: Bool) {
        self.offset = offset
        self.length = length
        self.duration = duration
        self.startsWithKeyframe = startsWithKeyframe
    }
}

/// What a fragmented MP4 being written holds so far: the init segment's length
/// and every fragment completed since. Only complete fragments are ever listed,
/// so the bytes they name are in the file and never change.
public struct FragmentSnapshot: Equatable, Sendable {
    /// `ftyp` + `moov` at the file's start.
    public var initLength: Int
    public var fragments: [Fragment]
    /// The file is complete: no fragment will follow.
    public var ended: Bool

    /// The bytes that are complete: the init segment and every fragment.
    public var completeLength: Int { fragments.last?.end ?? initLength }

    public init(initLength: Int, fragments: [Fragment], ended: Bool) {
        self.initLength = initLength
        self.fragments = fragments
        self.ended = ended
    }
}

/// The fragments of a recording's spool as the muxer completes them, for
/// whoever watches it live. The encoder adds to it; readers wait for what is new.
public final class FragmentIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var snapshot = FragmentSnapshot(initLength: 0, fragments: [], ended: false)
    private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    /// Waits whose time ran out before they began to wait.
    private var expired: Set<UUID> = []

    public init() {}

    public var current: FragmentSnapshot { lock.withLock { snapshot } }

    func setInitLength(_ length: Int) { change { $0.initLength = length } }

    func add(_ fragment: Fragment) { change { $0.fragments.append(fragment) } }

    /// No more fragments: the file is complete, or its encoder stopped.
    func end() { change { $0.ended = true } }

    /// Waits until there are more than `count` fragments, the file ends (`ended`: what the
    /// reader last saw), `timeout` passes or the task is cancelled (so a reader can check
    /// for itself whether it should go on).
    public func waitForChange(beyond count: Int, ended: Bool = false, timeout: Duration) async -> FragmentSnapshot {
        let id = UUID()
        let timer = Task {
            try? await Task.sleep(for: timeout)
            self.wake(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let due = lock.withLock {
                    if snapshot.fragments.count > count || snapshot.ended != ended || expired.contains(id) { return true }
                    waiters[id] = continuation
                    return false
                }
                if due { continuation.resume() }
            }
        } onCancel: {
            wake(id)
        }
        timer.cancel()
        await timer.value
        return lock.withLock {
            expired.remove(id)
            return snapshot
        }
    }

    private func wake(_ id: UUID) {
        lock.withLock { () -> CheckedContinuation<Void, Never>? in
            guard let waiter = waiters.removeValue(forKey: id) else {
                expired.insert(id)
                return nil
            }
            return waiter
        }?.resume()
    }

    private func change(_ body: (inout FragmentSnapshot) -> Void) {
        let woken = lock.withLock {
            body(&snapshot)
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
        for waiter in woken { waiter.resume() }
    }
}
