"""Replaying recorded Linux debugger sessions (gdb/strace traces) through the ptrace emulation."""
