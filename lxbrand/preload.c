/* lxbrand's preload library: ABI glue only, no tracing logic.
 *
 * Loaded into an unmodified debugger by `lxbrand run`, it routes the debugger's tracing calls --
 * ptrace(), waitpid()/wait4()/wait()/wait3()/waitid() and syscall(SYS_ptrace|SYS_wait4|SYS_waitid)
 * -- to the Python module lxbrand.shim, which answers them with lx_ptrace and the lx waits inside
 * the debugger's own process.  Everything it decides is decided there; this file only converts
 * between the C calling conventions of glibc and one Python call per request:
 *
 *   shim.ptrace(req, pid, addr, data)          -> the raw system call's result or -errno
 *   shim.wait4(pid, options, status_ptr, ru)   -> pid, 0, or -errno (stores *status, *ru)
 *   shim.waitid(idtype, options, infop, id)    -> 0 or -errno (stores *infop)
 *
 * CPython: a debugger that embeds it (gdb links libpython) is joined, never a second interpreter
 * started; one that does not (strace) gets the interpreter lxbrand run names, started at the first
 * call.  Around the debugger's forks the interpreter's fork protocol is kept (PyOS_BeforeFork /
 * AfterFork_*), and vfork() becomes fork(): a vfork child that ran Python would write into its
 * parent's memory.  Calls made while the shim itself runs (Python's own waitpid, the subprocess
 * that starts procd) go straight to libc.  The library keeps itself out of tracees: its own entry
 * of LD_PRELOAD and its variables are taken out of the environment before main() runs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct _object PyObject;
typedef int PyGILState_STATE;

static struct {
    int (*IsInitialized)(void);
    void (*InitializeEx)(int);
    PyGILState_STATE (*GILState_Ensure)(void);
    void (*GILState_Release)(PyGILState_STATE);
    void *(*Eval_SaveThread)(void);
    int (*Run_SimpleString)(const char *);
    PyObject *(*Import_ImportModule)(const char *);
    PyObject *(*Object_GetAttrString)(PyObject *, const char *);
    PyObject *(*Object_CallFunction)(PyObject *, const char *, ...);
    long (*Long_AsLong)(PyObject *);
    void (*DecRef)(PyObject *);
    PyObject *(*Err_Occurred)(void);
    void (*Err_Print)(void);
    void (*OS_BeforeFork)(void);
    void (*OS_AfterFork_Parent)(void);
    void (*OS_AfterFork_Child)(void);
} py;

static const char *const py_names[] = {
    "Py_IsInitialized", "Py_InitializeEx", "PyGILState_Ensure", "PyGILState_Release",
    "PyEval_SaveThread", "PyRun_SimpleString", "PyImport_ImportModule", "PyObject_GetAttrString",
    "PyObject_CallFunction", "PyLong_AsLong", "Py_DecRef", "PyErr_Occurred", "PyErr_Print",
    "PyOS_BeforeFork", "PyOS_AfterFork_Parent", "PyOS_AfterFork_Child",
};

/* What lxbrand run passed, kept before the environment is cleaned. */
static char shim_path[4096];   /* LXBRAND_SHIM_PATH: sys.path entries, ':'-separated */
static char libpython[1024];   /* LXBRAND_SHIM_LIBPYTHON: the interpreter to start if none is here */
static char pythonhome[1024];  /* LXBRAND_SHIM_HOME: its sys.base_prefix */
static char interpreter[1024]; /* LXBRAND_SHIM_PYTHON: its executable (procd is started with it) */

static PyObject *f_ptrace, *f_wait4, *f_waitid;
static int failed;              /* the shim could not be loaded: said once, then ENOSYS */
static int ours;                /* the interpreter is the one this library loaded */
static __thread int depth;      /* >0 while this thread runs the shim: libc calls pass through */

static long (*real_syscall)(long, ...);
static pid_t (*real_fork)(void);
static pid_t (*real_wait4)(pid_t, int *, int, struct rusage *);
static int (*real_waitid)(idtype_t, id_t, siginfo_t *, int);
static long (*real_ptrace)(int, ...);

static void copy_env(char *dst, size_t n, const char *name) {
    const char *v = getenv(name);
    if (v && strlen(v) < n)
        strcpy(dst, v);
}

/* Take our own file out of LD_PRELOAD (any other entries stay), and our variables out. */
static void clean_environment(void) {
    Dl_info self;
    const char *pre = getenv("LD_PRELOAD");
    if (pre && dladdr((void *)clean_environment, &self) && self.dli_fname) {
        char *copy = strdup(pre), *rest = calloc(1, strlen(pre) + 1), *save = NULL;
        for (char *tok = strtok_r(copy, ": ", &save); tok; tok = strtok_r(NULL, ": ", &save)) {
            if (strcmp(tok, self.dli_fname) == 0)
                continue;
            if (*rest)
                strcat(rest, ":");
            strcat(rest, tok);
        }
        if (*rest)
            setenv("LD_PRELOAD", rest, 1);
        else
            unsetenv("LD_PRELOAD");
        free(copy);
        free(rest);
    }
    unsetenv("LXBRAND_SHIM_PATH");
    unsetenv("LXBRAND_SHIM_LIBPYTHON");
    unsetenv("LXBRAND_SHIM_HOME");
    unsetenv("LXBRAND_SHIM_PYTHON");
}

__attribute__((constructor)) static void preload_init(void) {
    copy_env(shim_path, sizeof shim_path, "LXBRAND_SHIM_PATH");
    copy_env(libpython, sizeof libpython, "LXBRAND_SHIM_LIBPYTHON");
    copy_env(pythonhome, sizeof pythonhome, "LXBRAND_SHIM_HOME");
    copy_env(interpreter, sizeof interpreter, "LXBRAND_SHIM_PYTHON");
    clean_environment();
    real_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    real_fork = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
    real_wait4 = (pid_t (*)(pid_t, int *, int, struct rusage *))dlsym(RTLD_NEXT, "wait4");
    real_waitid = (int (*)(idtype_t, id_t, siginfo_t *, int))dlsym(RTLD_NEXT, "waitid");
    real_ptrace = (long (*)(int, ...))dlsym(RTLD_NEXT, "ptrace");
}

static int resolve_python(void) {
    void **slot = (void **)&py;
    for (size_t i = 0; i < sizeof py_names / sizeof *py_names; i++)
        if (!(slot[i] = dlsym(RTLD_DEFAULT, py_names[i])))
            return -1;
    return 0;
}

static void say(const char *what) {
    const char *err = dlerror();
    fprintf(stderr, "lxbrand run: %s%s%s\n", what, err ? ": " : "", err ? err : "");
}

/* 1: Python is here and the shim loaded; 0 after saying why not (once); -1: the debugger's own
 * interpreter is not started yet (ask again later).  Called with depth > 0. */
static int ensure_shim(void) {
    static int started;
    if (f_ptrace)
        return 1;
    if (failed)
        return 0;
    if (!dlsym(RTLD_DEFAULT, "Py_IsInitialized")) {
        /* No interpreter in this debugger: start lxbrand run's. */
        if (!*libpython || !dlopen(libpython, RTLD_NOW | RTLD_GLOBAL)) {
            say("cannot load the Python library lxbrand runs on (was the debugger started by lxbrand run?)");
            failed = 1;
            return 0;
        }
        ours = 1;
    }
    if (resolve_python() < 0) {
        say("the Python library lacks a function the shim needs");
        failed = 1;
        return 0;
    }
    if (!py.IsInitialized()) {
        if (started || !ours)
            /* A debugger that embeds Python and has not started it yet (gdb reaps a child it ran
             * at start-up before it starts Python): never start it for it; the caller passes the
             * call to libc -- nothing can be traced through lx before the shim is there. */
            return -1;
        char *old = getenv("PYTHONHOME"), *saved = old ? strdup(old) : NULL;
        if (*pythonhome)
            setenv("PYTHONHOME", pythonhome, 1);
        py.InitializeEx(0);  /* 0: the debugger's signal handlers stay its own */
        if (saved) {
            setenv("PYTHONHOME", saved, 1);
            free(saved);
        } else {
            unsetenv("PYTHONHOME");
        }
        started = 1;
        py.Eval_SaveThread();  /* from now on every call takes the GIL like any other thread */
    }
    PyGILState_STATE g = py.GILState_Ensure();
    char boot[sizeof shim_path + sizeof interpreter + 256];
    snprintf(boot, sizeof boot,
             "import sys\n"
             "for _p in reversed('%s'.split(':')):\n"
             "    if _p and _p not in sys.path: sys.path.insert(0, _p)\n"
             "import lxbrand.shim\n"
             "lxbrand.shim.configure('%s')\n",
             shim_path, interpreter);
    PyObject *mod = NULL;
    /* (the paths are lxbrand run's own; one with a quote in it is refused, not quoted) */
    if (!strchr(shim_path, '\'') && !strchr(interpreter, '\'') && py.Run_SimpleString(boot) == 0)
        mod = py.Import_ImportModule("lxbrand.shim");
    if (mod) {
        f_ptrace = py.Object_GetAttrString(mod, "ptrace");
        f_wait4 = py.Object_GetAttrString(mod, "wait4");
        f_waitid = py.Object_GetAttrString(mod, "waitid");
        py.DecRef(mod);
    }
    if (!f_ptrace || !f_wait4 || !f_waitid) {
        if (py.Err_Occurred())
            py.Err_Print();
        fprintf(stderr, "lxbrand run: cannot import lxbrand.shim\n");
        f_ptrace = NULL;
        failed = 1;
    }
    py.GILState_Release(g);
    return f_ptrace != NULL;
}

#define NOT_YET (-4096L - 1)  /* call()'s answer before the debugger's Python is started */

/* One shim call, fn(a, b, c, d) with c and d unsigned (addresses): its long result, -ENOSYS
 * when the shim cannot be loaded, or NOT_YET before the debugger has started its own Python
 * (the caller decides).  errno is left as it was. */
static long call(PyObject **fn, long a, long b, unsigned long c, unsigned long d) {
    long r = -ENOSYS;
    int saved = errno;
    depth++;
    int ready = ensure_shim();
    if (ready < 0)
        r = NOT_YET;
    else if (ready) {
        PyGILState_STATE g = py.GILState_Ensure();
        PyObject *res = py.Object_CallFunction(*fn, "llkk", a, b, c, d);
        if (res) {
            r = py.Long_AsLong(res);
            py.DecRef(res);
        }
        if (py.Err_Occurred()) {
            py.Err_Print();
            r = -EIO;
        }
        py.GILState_Release(g);
    }
    depth--;
    errno = saved;
    return r;
}

static long as_libc(long r) {
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

/* A libc call's result as the shim's (-errno on failure). */
static long as_raw(long r) {
    return r < 0 ? -(long)errno : r;
}

static long shim_ptrace(int req, pid_t pid, void *addr, void *data) {
    long r = call(&f_ptrace, req, pid, (unsigned long)addr, (unsigned long)data);
    if (r == NOT_YET) {
        fprintf(stderr, "lxbrand run: ptrace request %d before the debugger started its Python: "
                "not traced through lx (ENOSYS)\n", req);
        r = -ENOSYS;
    }
    return r;
}

/* The waits before the shim is there are for children the debugger ran itself (none can be
 * an lx tracee yet): the kernel answers them. */
static long shim_wait4(pid_t pid, int *status, int options, struct rusage *ru) {
    long r = call(&f_wait4, pid, (unsigned)options, (unsigned long)status, (unsigned long)ru);
    return r == NOT_YET ? as_raw(real_wait4(pid, status, options, ru)) : r;
}

static long shim_waitid(idtype_t idtype, id_t id, siginfo_t *infop, int options) {
    long r = call(&f_waitid, idtype, (unsigned)options, (unsigned long)infop, id);
    return r == NOT_YET ? as_raw(real_waitid(idtype, id, infop, options)) : r;
}

/* glibc's ptrace(): PEEK* return the word (errno 0) where the system call stores it at data. */
long ptrace(int req, ...) {
    va_list ap;
    va_start(ap, req);
    pid_t pid = va_arg(ap, pid_t);
    void *addr = va_arg(ap, void *);
    void *data = va_arg(ap, void *);
    va_end(ap);
    if (depth)
        return real_ptrace(req, pid, addr, data);
    long word = 0;
    int peek = req >= 1 && req <= 3;  /* PTRACE_PEEKTEXT, PEEKDATA, PEEKUSER */
    long r = shim_ptrace(req, pid, addr, peek ? (void *)&word : data);
    if (r < 0)
        return as_libc(r);
    if (peek) {
        errno = 0;
        return word;
    }
    return r;
}

pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru) {
    if (depth)
        return real_wait4(pid, status, options, ru);
    return (pid_t)as_libc(shim_wait4(pid, status, options, ru));
}

pid_t waitpid(pid_t pid, int *status, int options) {
    return wait4(pid, status, options, NULL);
}

pid_t wait(int *status) {
    return wait4(-1, status, 0, NULL);
}

pid_t wait3(int *status, int options, struct rusage *ru) {
    return wait4(-1, status, options, ru);
}

int waitid(idtype_t idtype, id_t id, siginfo_t *infop, int options) {
    if (depth)
        return real_waitid(idtype, id, infop, options);
    return (int)as_libc(shim_waitid(idtype, id, infop, options));
}

long syscall(long n, ...) {
    va_list ap;
    va_start(ap, n);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (!depth) {
        /* The raw calls' conventions: PEEK* store at data, wait4 is wait4, waitid gets a rusage
         * argument the lx wait does not fill (it is zeroed when given). */
        if (n == SYS_ptrace)
            return as_libc(shim_ptrace((int)a[0], (pid_t)a[1], (void *)a[2], (void *)a[3]));
        if (n == SYS_wait4)
            return as_libc(shim_wait4((pid_t)a[0], (int *)a[1], (int)a[2], (struct rusage *)a[3]));
        if (n == SYS_waitid) {
            long r = shim_waitid((idtype_t)a[0], (id_t)a[1], (siginfo_t *)a[2], (int)a[3]);
            if (r == 0 && a[4])
                memset((void *)a[4], 0, sizeof(struct rusage));
            return as_libc(r);
        }
    }
    return real_syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static pid_t fork_with_python(void) {
    if (depth || !dlsym(RTLD_DEFAULT, "Py_IsInitialized") || resolve_python() < 0 || !py.IsInitialized())
        return real_fork();
    /* The interpreter's fork protocol, as os.fork keeps it: the child may run the shim. */
    depth++;
    PyGILState_STATE g = py.GILState_Ensure();
    py.OS_BeforeFork();
    pid_t pid = real_fork();
    int saved = errno;
    if (pid == 0)
        py.OS_AfterFork_Child();
    else
        py.OS_AfterFork_Parent();
    py.GILState_Release(g);
    depth--;
    errno = saved;
    return pid;
}

pid_t fork(void) {
    return fork_with_python();
}

/* vfork() is fork(): the child shares nothing, so Python in it (a TRACEME) cannot hurt the
 * parent.  The parent is not held until the child's exec, which no caller can tell apart. */
pid_t vfork(void) {
    return fork_with_python();
}
