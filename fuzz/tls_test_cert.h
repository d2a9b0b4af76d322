/* fuzz/tls_test_cert.h - a self-signed ECDSA P-256 certificate and its key for the TLS
   mode of the fuzz harness (fuzz_tls.c). A test key, public on purpose: never use it. */
static const char fuzz_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBdDCCARugAwIBAgIUOtENiWdABJ6itJ7t6yrCl2LG4SMwCgYIKoZIzj0EAwIw\n"
    "DzENMAsGA1UEAwwEZnV6ejAgFw0yNjEyMDQxNzIwNDhaGA8yMTI2MTExMDE3MjA0\n"
    "OFowDzENMAsGA1UEAwwEZnV6ejBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABFTi\n"
    "3xIp2NuBc3IFH37l0UT7rhP0bd3n2rqUNOZSr+3SRjgH+Od+aqPW5gB06YfleOAR\n"
    "kNQ96zyT2iwIZAy0MSijUzBRMB0GA1UdDgQWBBRT4fkCgUuqYx80fNkXXBx+04bk\n"
    "GTAfBgNVHSMEGDAWgBRT4fkCgUuqYx80fNkXXBx+04bkGTAPBgNVHRMBAf8EBTAD\n"
    "AQH/MAoGCCqGSM49BAMCA0cAMEQCIANhqQQVwkYmYmgodlM7lD3bTm+k2CEa+Keu\n"
    "I7HX6MXZAiBABIsSGY9jrXhJgcHDkjAl2isqsW5nMzo5p9BuVckTrQ==\n"
    "-----END CERTIFICATE-----\n";
static const char fuzz_key_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIMB1v+FCz9nf1iS2i/hWb25RHt3pcnkZ7TsDHeWDJQBIoAoGCCqGSM49\n"
    "AwEHoUQDQgAEVOLfEinY24FzcgUffuXRRPuuE/Rt3efaupQ05lKv7dJGOAf4535q\n"
    "o9bmAHTph+V44BGQ1D3rPJPaLAhkDLQxKA==\n"
    "-----END EC PRIVATE KEY-----\n";
