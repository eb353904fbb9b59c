import CMalloc

/// glibc keeps the memory recordings freed in its arenas (each encoder thread
/// gets one) long after the load is gone; handing it back to the system when
/// the server falls idle brings its resident size back near where it started.
enum ProcessMemory {
    /// Returns freed memory of every arena to the system.
    static func releaseFreed() {
        _ = malloc_trim(0)
    }
}
