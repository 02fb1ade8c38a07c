"""Binary layouts (construct schemas) and constant tables for Linux and Solaris, amd64 and i386.

No behaviour lives here: `layout` builds schemas, `fields` answers offsetof/sizeof/field_at,
`codec` derives fast codecs, and the other modules are schemas and tables.
"""

#: Marks this as lxbrand's `structs` (the top-level name is generic: native_proc checks this marker
#: on import so that another distribution's `structs` earlier on sys.path fails loudly).
LXBRAND_STRUCTS = 1
