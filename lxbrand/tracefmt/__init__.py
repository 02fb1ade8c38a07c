"""How `lxbrand trace` prints, as strace 6.1 prints: quoting, syscall classes for `-e trace=`,
the `-c` summary table, and the argument and struct decoders.  Pure functions over bytes and
integers: nothing here touches a tracee (trace.py reads the memory and hands it over)."""
