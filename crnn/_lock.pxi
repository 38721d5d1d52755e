# Locks taken the way the Engine needs them: a thread that must wait for one
# waits without the GIL, since its holder may need the GIL to finish.
# Included by _core.pyx.

cdef PyThread_type_lock _new_lock() except NULL:
    cdef PyThread_type_lock lock = PyThread_allocate_lock()
    if lock == NULL:
        raise MemoryError("crnn: cannot allocate a lock")
    return lock


cdef int _take(PyThread_type_lock lock) except -1:
    if not PyThread_acquire_lock(lock, NOWAIT_LOCK):
        with nogil:
            PyThread_acquire_lock(lock, WAIT_LOCK)
    return 0


cdef class GradientLock:
    """The lock of a model's one gradient array, shared by its workspaces: a
    backward holds it while it writes the array, and Python code that adds
    to it or reads it after a backward (the output layer's share from final
    states, the seed API's SGD step) holds it around both, in a ``with``. A
    thread that holds it may take it again."""
    cdef PyThread_type_lock lock
    cdef unsigned long owner
    cdef int depth  # how many times its owner holds it; 0: free

    def __cinit__(self):
        self.lock = _new_lock()

    def __dealloc__(self):
        if self.lock != NULL:
            PyThread_free_lock(self.lock)

    cdef int take(self) except -1:
        # owner and depth change only with the GIL held, and depth is 0
        # whenever the lock is free
        cdef unsigned long me = PyThread_get_thread_ident()
        if self.depth == 0 or self.owner != me:
            _take(self.lock)
            self.owner = me
        self.depth += 1
        return 0

    cdef void give(self) noexcept:
        self.depth -= 1
        if self.depth == 0:
            PyThread_release_lock(self.lock)

    def __enter__(self):
        self.take()

    def __exit__(self, *exc):
        self.give()
