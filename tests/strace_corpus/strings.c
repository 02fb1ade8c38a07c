/* quoting: escapes, octal before digits, NULs, high bytes, truncation at -s */
#include <unistd.h>
int main(void) {
    write(-1, "\0018\0019\0017a\n\t\r\v\f\"\\ \x7f\x80\xff", 18);
    write(-1, "abc\0def", 7);
    write(-1, "\033[0m\a\b", 6);
    write(-1, "hello\n", 6);
    write(-1, "\xc3\xa9t\xc3\xa9", 6);
    write(-1, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", 46);
    write(-1, "", 0);
    write(-1, (void *)16, 4);
    access("/a/path/that/is/much/longer/than/thirty/two/characters/for/sure", F_OK);
    return 0;
}
