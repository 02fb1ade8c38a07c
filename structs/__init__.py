"""Binary layouts (construct schemas) and constant tables for Linux and Solaris, amd64 and i386.

No behaviour lives here: `layout` builds schemas, `fields` answers offsetof/sizeof/field_at,
`codec` derives fast codecs, and the other modules are schemas and tables.
"""
