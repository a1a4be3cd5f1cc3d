/*
 * One -D flag per convention of ../shared/notes/minitalk-conventions.md
 * (table A..L): -DCONV_A ... -DCONV_L select the behaviour flags that
 * minitalk_client.c and minitalk_server.c document in their header comments.
 * Both files include this one; each ignores the other's flags. A flag given on
 * the command line wins where this file says #ifndef (PACE_US: the unacked
 * pacing variants of B and C are -DCONV_B -DPACE_US=50 and so on).
 *
 * The mapping is also in tests/peers/conventions.py (with sigchat's profile for
 * each); keep the two in step.
 */
#ifndef CONVENTIONS_H
# define CONVENTIONS_H

/* A: MSB, SIGUSR2 = 1, NUL; SIGUSR1 ack after usleep(100), SIGUSR2 = error;
 * the client's usleep(10000) per bit is cut short by the ack, a full sleep is
 * "server timed out". */
# if defined(CONV_A)
#  define WAIT_SLEEP_US 10000
#  define ERROR_SIG SIGUSR2
#  define ACK_DELAY_US 100

/* B: LSB, SIGUSR2 = 1, 32-bit length (LSB first) and NUL; no acks at all,
 * usleep(100) per bit; signal() without si_pid; kill() errors ignored. */
# elif defined(CONV_B)
#  define LSB_FIRST
#  define LEN_BITS 32
#  define WITH_NUL
#  define NO_ACK
#  ifndef PACE_US
#   define PACE_US 100
#  endif
#  define IGNORE_KILL_ERRORS
#  define NO_SIGINFO

/* C: MSB, SIGUSR1 = 1, 32-bit length MSB first, no NUL; no per-bit ack but
 * one SIGUSR1 once the length is reached; usleep(100) per bit; the server
 * busy-waits. */
# elif defined(CONV_C)
#  define ONE_IS_USR1
#  define LEN_BITS 32
#  define NO_ACK
#  ifndef PACE_US
#   define PACE_US 100
#  endif
#  define END_ACK_SIG SIGUSR1
#  define END_WAIT_MS 2000 /* the end ack comes at once or never (a lost bit) */
#  define BUSY_WAIT

/* D: LSB, SIGUSR1 = 1; handshake SIGUSR1 -> SIGUSR1; one length-type signal
 * (SIGUSR1: a 32-bit length follows, SIGUSR2: 64-bit), the length LSB first
 * and counting the NUL, then the bytes and the NUL; SIGUSR1 acks, SIGUSR2 end
 * ack; the client takes a sleep(2) that is not interrupted as a lost ack. */
# elif defined(CONV_D)
#  define LSB_FIRST
#  define ONE_IS_USR1
#  define HANDSHAKE
#  define LEN_TYPED
#  define WITH_NUL
#  define LEN_COUNTS_NUL
#  define ACK_SIG SIGUSR1
#  define END_ACK_SIG SIGUSR2
#  define WAIT_SLEEP_S 2
#  define HANDSHAKE_WAIT_MS 2000

/* E: MSB, SIGUSR2 = 1, 64-bit length MSB first, no NUL; SIGUSR1 acks; the
 * client resends a bit after 42 ms without its ack; the server drops a
 * session after 0.42 s of silence and tells the client with SIGUSR2. */
# elif defined(CONV_E)
#  define LEN_BITS 64
#  define ACK_SIG SIGUSR1
#  define RESEND_MS 42
#  define ERROR_SIG SIGUSR2
#  define SESSION_TIMEOUT_MS 420
#  define TIMEOUT_SIG SIGUSR2

/* F: MSB, SIGUSR2 = 1; ping SIGUSR1 -> pong SIGUSR1 (a busy server does not
 * answer; the client tries 10 times, 1 s each); 32-bit length MSB first, no
 * NUL; SIGUSR2 acks, SIGUSR1 end ack; the client polls its flag with
 * usleep(100); the server serves one client at a time and resets after 2.5 s
 * of silence. */
# elif defined(CONV_F)
#  define LEN_BITS 32
#  define HANDSHAKE
#  define HANDSHAKE_TRIES 10
#  define HANDSHAKE_WAIT_MS 1000
#  define ACK_SIG SIGUSR2
#  define END_ACK_SIG SIGUSR1
#  define POLL_US 100
#  define LOCK_MS 2500
#  define RESET_MS 2500

/* G: LSB, SIGUSR2 = 1, NUL; SIGUSR1 ack after usleep(150), one more SIGUSR1
 * 600 us after the NUL's ack; the client pause()s for each ack (racy: no
 * blocking), then usleep(300). */
# elif defined(CONV_G)
#  define LSB_FIRST
#  define ACK_SIG SIGUSR1
#  define WAIT_PAUSE
#  define AFTER_ACK_US 300
#  define ACK_DELAY_US 150
#  define END_ACK_SIG SIGUSR1
#  define END_ACK_UNWAITED
#  define END_ACK_DELAY_US 600

/* H: MSB, SIGUSR2 = 1; a 64-bit length as raw little-endian memory (each byte
 * MSB first) counting the NUL, the bytes, the NUL; SIGUSR1 acks; the client's
 * usleep(50000) per bit is cut short by the ack; the server locks to the first
 * pid (10 s). */
# elif defined(CONV_H)
#  define LEN_BITS 64
#  define LEN_LE_BYTES
#  define WITH_NUL
#  define LEN_COUNTS_NUL
#  define ACK_SIG SIGUSR1
#  define WAIT_SLEEP_US 50000
#  define LOCK_MS 10000

/* I: MSB, SIGUSR2 = 1, 32-bit length MSB first and NUL; SIGUSR1 acks, SIGUSR2
 * end ack; the client pause()s for each ack (racy), the server usleep(100)s
 * before it acks. */
# elif defined(CONV_I)
#  define LEN_BITS 32
#  define WITH_NUL
#  define ACK_SIG SIGUSR1
#  define END_ACK_SIG SIGUSR2
#  define WAIT_PAUSE
#  define ACK_DELAY_US 100

/* J: MSB, SIGUSR2 = 1, NUL; connect SIGUSR1 answered by SIGUSR2 (SIGUSR1:
 * refused, the server is busy); SIGUSR2 acks; the client tries the connect 5
 * times, 1 s each. */
# elif defined(CONV_J)
#  define HANDSHAKE
#  define HANDSHAKE_REPLY SIGUSR2
#  define HANDSHAKE_REFUSE SIGUSR1
#  define HANDSHAKE_TRIES 5
#  define HANDSHAKE_WAIT_MS 1000
#  define ACK_SIG SIGUSR2
#  define LOCK_MS 2000
#  define BUSY_SIG SIGUSR1

/* K: LSB, SIGUSR2 = 1; the length as 10 ASCII decimal digits, the bytes, a
 * NUL; SIGUSR1 acks. */
# elif defined(CONV_K)
#  define LSB_FIRST
#  define LEN_DEC10
#  define WITH_NUL
#  define ACK_SIG SIGUSR1

/* L: LSB; the client sends kill(pid, SIGUSR1 + bit) (on macOS SIGUSR1 + 1 is
 * SIGUSR2; on Linux it is SIGSEGV, which kills the server); 64-bit length LSB
 * first and NUL; no acks, usleep(100) per bit. The server is an ordinary
 * SIGUSR2 = 1 one. */
# elif defined(CONV_L)
#  define LSB_FIRST
#  define LEN_BITS 64
#  define WITH_NUL
#  define NO_ACK
#  ifndef PACE_US
#   define PACE_US 100
#  endif
#  define SIG_PLUS_BIT
# endif

#endif
