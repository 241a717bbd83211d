/* A stand-in for Windows' bcryptprimitives.dll, for Wine 8 only.
 *
 * Rust's standard library (1.78 and later) takes its random bytes from
 * ProcessPrng in bcryptprimitives.dll, which Windows 10 and 11 have and
 * Wine 8.0 (Debian 12) does not: without it no Rust .exe starts under Wine.
 * installer/test-windows.sh builds this with MinGW-w64 into the test's Wine
 * prefix; it never ships. ProcessPrng is answered by advapi32's
 * RtlGenRandom (SystemFunction036), which Wine implements with the host's
 * random source. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
