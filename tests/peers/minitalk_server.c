/*
 * A classic minitalk server, written like the public implementations and
 * independently of sigchat: the tests compile it with gcc, once per convention.
 *
 * Prints "PID <pid>" first, then "MSG <hex>" for every whole message (hex,
 * so that any byte and newline survives the pipe), "BAD <hex>" for a
 * message with a length and a NUL whose NUL is missing, and on SIGTERM
 * "CLIENT <pid> <signals>": how many signals the last client's arrived. Everything happens in the
 * signal handler (SA_SIGINFO, both signals masked while it runs); a new
 * client pid restarts the message.
 *
 * A whole convention of ../shared/notes/minitalk-conventions.md is one flag,
 * -DCONV_A ... -DCONV_L (conventions.h maps it to the flags below).
 *
 * Wire conventions (compile-time; see minitalk_client.c): -DLSB_FIRST,
 * -DONE_IS_USR1, -DLEN_BITS=32|64 (+ -DWITH_NUL, -DLEN_COUNTS_NUL,
 * -DLEN_LE_BYTES), -DLEN_TYPED (a SIGUSR1/SIGUSR2 first says 32/64 bits),
 * -DLEN_DEC10 (10 ASCII digits), -DACK_SIG=S (default SIGUSR1) or -DNO_ACK,
 * -DEND_ACK_SIG=S (sent after the last bit's ack), -DHANDSHAKE (the first
 * SIGUSR1 of each message is answered with -DHANDSHAKE_REPLY=S, default
 * SIGUSR1).
 *
 * Server styles:
 *   -DNO_SIGINFO           signal() handlers: no si_pid, so no client is told
 *                          apart (and "CLIENT 0 ..." at the end)
 *   -DACK_DELAY_US=N       usleep(N) in the handler before each ack (what
 *                          students add when their pause() client hangs)
 *   -DEND_ACK_DELAY_US=N   usleep(N) between the last ack and the end ack
 *   -DBUSY_WAIT            main loop while (1) {} instead of pause()
 *   -DLOCK_MS=N            one client at a time: while a client is mid-message
 *                          and was heard from in the last N ms, other pids are
 *                          ignored; -DBUSY_SIG=S answers their SIGUSR1 with S
 *   -DRESET_MS=N           a client silent for N ms mid-message starts over
 *                          (noticed at its next signal)
 *   -DSESSION_TIMEOUT_MS=N the main loop drops a message silent for N ms and
 *                          sends -DTIMEOUT_SIG=S (default SIGUSR2) to its client
 *   -DSIGWAITINFO          no handler: both signals blocked, the main loop takes
 *                          them with sigwaitinfo() (the fastest way a C server
 *                          can read signals; si_pid known even with NO_SIGINFO's
 *                          convention, BUSY_WAIT and SESSION_TIMEOUT_MS ignored):
 *                          the yardstick for unacked clients (issue 14)
 */
#define _DEFAULT_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conventions.h"

#ifdef ONE_IS_USR1
# define ONE_SIG SIGUSR1
#else
# define ONE_SIG SIGUSR2
#endif
#if !defined(NO_ACK) && !defined(ACK_SIG)
# define ACK_SIG SIGUSR1
#endif
#if !defined(LEN_BITS) && !defined(LEN_TYPED) && !defined(LEN_DEC10) && !defined(WITH_NUL)
# define WITH_NUL
#endif
#if defined(LEN_BITS) || defined(LEN_TYPED) || defined(LEN_DEC10)
# define HAS_LENGTH
#endif
#ifndef HANDSHAKE_REPLY
# define HANDSHAKE_REPLY SIGUSR1
#endif
#ifndef TIMEOUT_SIG
# define TIMEOUT_SIG SIGUSR2
#endif
#if defined(LOCK_MS) || defined(RESET_MS) || defined(SESSION_TIMEOUT_MS)
# define TRACKS_TIME
#endif
#define MAX_MESSAGE (1 << 20)

/* Where the current message is. */
enum { ST_HANDSHAKE, ST_TYPE, ST_HEADER, ST_BODY };

static unsigned char g_data[MAX_MESSAGE];
static char g_line[2 * MAX_MESSAGE + 16];
static volatile pid_t g_client;
static volatile unsigned long g_signals;
static int g_state;
static int g_nbits;
static unsigned int g_byte;
static size_t g_count;
static volatile sig_atomic_t g_busy; /* a message is in progress */
#ifdef HAS_LENGTH
static unsigned char g_header[10];
static int g_header_len;
static int g_header_need;
static uint64_t g_total; /* bytes after the header, NUL included */
#endif
#ifdef TRACKS_TIME
static volatile long g_last_ms; /* when the client was last heard from */
#endif

static void reset(void)
{
	g_nbits = 0;
	g_byte = 0;
	g_count = 0;
	g_busy = 0;
#if defined(HANDSHAKE)
	g_state = ST_HANDSHAKE;
#elif defined(LEN_TYPED)
	g_state = ST_TYPE;
#elif defined(HAS_LENGTH)
	g_state = ST_HEADER;
#else
	g_state = ST_BODY;
#endif
#ifdef HAS_LENGTH
	g_header_len = 0;
# if defined(LEN_DEC10)
	g_header_need = 10;
# elif defined(LEN_BITS)
	g_header_need = LEN_BITS / 8;
# endif
	g_total = 0;
#endif
}

#ifdef TRACKS_TIME
static long now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now); /* async-signal-safe */
	return now.tv_sec * 1000L + now.tv_nsec / 1000000L;
}
#endif

static void print_message(const char *tag)
{
	static const char digits[] = "0123456789abcdef";
	size_t n = 0;
	size_t i;
	size_t count = g_count < MAX_MESSAGE ? g_count : MAX_MESSAGE;

	memcpy(g_line, tag, 4);
	n = 4;
	for (i = 0; i < count; i++) {
		g_line[n++] = digits[g_data[i] >> 4];
		g_line[n++] = digits[g_data[i] & 15];
	}
	g_line[n++] = '\n';
	write(1, g_line, n);
}

#ifdef HAS_LENGTH
/* The length header is complete: how many bytes follow (NUL included). */
static void header_done(void)
{
	uint64_t length = 0;
	int i;

# if defined(LEN_DEC10)
	for (i = 0; i < g_header_need; i++)
		length = length * 10 + (uint64_t)(g_header[i] - '0');
# elif defined(LEN_LE_BYTES) || defined(LSB_FIRST)
	/* little-endian: the integer's low byte came first */
	for (i = g_header_need - 1; i >= 0; i--)
		length = (length << 8) | g_header[i];
# else
	for (i = 0; i < g_header_need; i++)
		length = (length << 8) | g_header[i];
# endif
	g_total = length;
# if defined(WITH_NUL) && !defined(LEN_COUNTS_NUL)
	g_total += 1;
# endif
	g_state = ST_BODY;
}
#endif

/* Returns 1 when the byte ended the message. */
static int on_byte(unsigned char byte)
{
#ifdef HAS_LENGTH
	if (g_state == ST_HEADER) {
		g_header[g_header_len++] = byte;
		if (g_header_len < g_header_need)
			return 0;
		header_done();
		if (g_total == 0) {
			print_message("MSG ");
			return 1;
		}
		return 0;
	}
	if (g_count < MAX_MESSAGE)
		g_data[g_count] = byte;
	g_count++;
	if (g_count < g_total)
		return 0;
# ifdef WITH_NUL
	g_count--;
	print_message(byte == 0 ? "MSG " : "BAD ");
# else
	print_message("MSG ");
# endif
	return 1;
#else
	if (byte == 0) {
		print_message("MSG ");
		return 1;
	}
	if (g_count < MAX_MESSAGE)
		g_data[g_count++] = byte;
	return 0;
#endif
}

#if defined(ACK_SIG) || defined(END_ACK_SIG) || defined(HANDSHAKE)
# define ANSWERS
#endif

#ifdef ANSWERS
static void send_to_client(int sig)
{
#ifdef NO_SIGINFO
	(void)sig; /* without si_pid there is nobody to answer */
#else
	kill(g_client, sig);
#endif
}
#endif

/* Whether a signal from pid belongs to the message (and to whom). */
static int admit(pid_t pid, int sig)
{
#ifdef TRACKS_TIME
	long now = now_ms();
#endif
#if defined(RESET_MS) || defined(LOCK_MS)
	long quiet = now - g_last_ms;
#endif

	(void)sig;
	if (pid == g_client) {
#ifdef RESET_MS
		if (g_busy && quiet > RESET_MS)
			reset();
#endif
#ifdef TRACKS_TIME
		g_last_ms = now;
#endif
		return 1;
	}
#ifdef LOCK_MS
	if (g_busy && quiet < LOCK_MS) {
# ifdef BUSY_SIG
		if (sig == SIGUSR1)
			kill(pid, BUSY_SIG);
# endif
		return 0;
	}
#endif
	g_client = pid;
	g_signals = 0;
	reset();
#ifdef TRACKS_TIME
	g_last_ms = now;
#endif
	return 1;
}

static void on_bit_signal(int sig, pid_t pid)
{
	int bit = (sig == ONE_SIG);
	int ended = 0;

	if (!admit(pid, sig))
		return;
	g_signals++;
	g_busy = 1;
#ifdef HANDSHAKE
	if (g_state == ST_HANDSHAKE) {
		if (sig == SIGUSR1) {
# if defined(LEN_TYPED)
			g_state = ST_TYPE;
# elif defined(HAS_LENGTH)
			g_state = ST_HEADER;
# else
			g_state = ST_BODY;
# endif
			send_to_client(HANDSHAKE_REPLY);
		}
		return;
	}
#endif
#ifdef LEN_TYPED
	if (g_state == ST_TYPE) {
		g_header_need = sig == SIGUSR1 ? 4 : 8;
		g_state = ST_HEADER;
		goto acknowledge;
	}
#endif
#ifdef LSB_FIRST
	g_byte |= (unsigned int)bit << g_nbits;
#else
	g_byte = (g_byte << 1) | (unsigned int)bit;
#endif
	if (++g_nbits == 8) {
		ended = on_byte((unsigned char)g_byte);
		g_nbits = 0;
		g_byte = 0;
	}
#ifdef LEN_TYPED
acknowledge:
#endif
#ifdef ACK_SIG
# ifdef ACK_DELAY_US
	usleep(ACK_DELAY_US);
# endif
	send_to_client(ACK_SIG);
#endif
	if (ended) {
#ifdef END_ACK_SIG
# ifdef END_ACK_DELAY_US
		usleep(END_ACK_DELAY_US);
# endif
		send_to_client(END_ACK_SIG);
#endif
		reset();
	}
}

#if defined(SIGWAITINFO)
/* (no handler: main() takes the signals) */
#elif defined(NO_SIGINFO)
static void on_signal(int sig)
{
	on_bit_signal(sig, 0);
}
#else
static void on_signal(int sig, siginfo_t *info, void *context)
{
	(void)context;
	on_bit_signal(sig, info->si_pid);
}
#endif

static void on_term(int sig)
{
	char line[64];
	int n;

	(void)sig;
	n = snprintf(line, sizeof(line), "CLIENT %d %lu\n", (int)g_client, g_signals);
	write(1, line, (size_t)n);
	_exit(0);
}

#ifdef SESSION_TIMEOUT_MS
/* The main loop's check: a message silent too long is dropped, and its client
 * told. The handler must not run meanwhile: both signals blocked. */
static void check_session(void)
{
	sigset_t both;
	sigset_t old;

	sigemptyset(&both);
	sigaddset(&both, SIGUSR1);
	sigaddset(&both, SIGUSR2);
	sigprocmask(SIG_BLOCK, &both, &old);
	if (g_busy && now_ms() - g_last_ms > SESSION_TIMEOUT_MS) {
		kill(g_client, TIMEOUT_SIG);
		reset();
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}
#endif

int main(void)
{
	char line[32];
	int n;
#ifdef SIGWAITINFO
	sigset_t both;
	siginfo_t info;
#endif

	reset();
#if defined(SIGWAITINFO)
	sigemptyset(&both);
	sigaddset(&both, SIGUSR1);
	sigaddset(&both, SIGUSR2);
	sigprocmask(SIG_BLOCK, &both, NULL);
#elif defined(NO_SIGINFO)
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
#else
	{
		struct sigaction action;

		memset(&action, 0, sizeof(action));
		action.sa_sigaction = on_signal;
		action.sa_flags = SA_SIGINFO | SA_RESTART;
		sigemptyset(&action.sa_mask);
		sigaddset(&action.sa_mask, SIGUSR1);
		sigaddset(&action.sa_mask, SIGUSR2);
		sigaction(SIGUSR1, &action, NULL);
		sigaction(SIGUSR2, &action, NULL);
	}
#endif
	signal(SIGTERM, on_term);
	n = snprintf(line, sizeof(line), "PID %d\n", (int)getpid());
	write(1, line, (size_t)n);
#if defined(SIGWAITINFO)
	for (;;)
		if (sigwaitinfo(&both, &info) > 0)
			on_bit_signal(info.si_signo, info.si_pid);
#elif defined(BUSY_WAIT)
	while (1) {
	}
#elif defined(SESSION_TIMEOUT_MS)
	for (;;) {
		usleep(10000);
		check_session();
	}
#else
	for (;;)
		pause();
#endif
}
