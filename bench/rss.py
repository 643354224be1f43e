"""Peak RSS of a benchmark's child process (code run with ``python -c``): ``PEAK_RSS`` defines ``peak_rss_mb()``,
the high-water mark of the process's own memory (``VmHWM`` of ``/proc/self/status``). Not ``ru_maxrss``: on Linux
a child started by fork + exec inherits its parent's peak (the forked copy's high-water mark is kept at exec), so
a child of a 450 MB bench process reported 450 MB whatever it used itself."""

PEAK_RSS = r'''
def peak_rss_mb():
    try:
        with open("/proc/self/status") as fh:
            return next(int(x.split()[1]) for x in fh if x.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):   # no /proc: the rusage figure, an upper bound
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
'''
