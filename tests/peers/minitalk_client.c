/*
 * A classic minitalk client, written like the public implementations and
 * independently of sigchat: the tests compile it with gcc, once per convention.
 *
 *   client SERVER_PID MESSAGE            send MESSAGE (its bytes; UTF-8 as is)
 *   client SERVER_PID -x HEX             send the bytes written in HEX
 *   client SERVER_PID MESSAGE N MS       send the first N bits, go silent for
 *                                        MS ms, then send the whole message;
 *                                        MS < 0: exit after the N bits
 *
 * Conventions (compile-time, like a student's fixed choices):
 *   -DLSB_FIRST          bits of a byte least significant first (default: most)
 *   -DONE_IS_USR1        SIGUSR1 = 1, SIGUSR2 = 0 (default: SIGUSR2 = 1)
 *   -DLEN_BITS=32|64     send the length first, as one integer, bit by bit in
 *                        the same bit order; -DWITH_NUL sends the NUL too and
 *                        -DLEN_COUNTS_NUL counts it in the length
 *                        (default: no length, NUL-terminated)
 *   -DACK_SIG=SIGUSR1    wait for this signal after every bit (the default)
 *   -DNO_ACK -DPACE_US=N no ack: usleep(N) after every bit and no signal
 *                        handler at all (an ack would kill this client)
 *   -DEND_ACK_SIG=S      after the last bit, wait up to 5 s for S
 *   -DHANDSHAKE          start with SIGUSR1 and wait for SIGUSR1
 *   -DLINGER_MS=N        stay N ms after the message (signal dispositions
 *                        unchanged: a signal it does not catch kills it)
 *
 * Exit status: 0 sent, 1 usage, 2 kill() failed, 3 no end ack within 5 s.
 * alarm(30) ends a stuck client (killed by SIGALRM).
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef ONE_IS_USR1
# define ONE_SIG SIGUSR1
# define ZERO_SIG SIGUSR2
#else
# define ONE_SIG SIGUSR2
# define ZERO_SIG SIGUSR1
#endif
#if !defined(NO_ACK) && !defined(ACK_SIG)
# define ACK_SIG SIGUSR1
#endif
#ifndef PACE_US
# define PACE_US 100
#endif
#if !defined(LEN_BITS) && !defined(WITH_NUL)
# define WITH_NUL
#endif
#if defined(ACK_SIG) || defined(END_ACK_SIG) || defined(HANDSHAKE)
# define HAS_HANDLER
#endif

static volatile sig_atomic_t g_acked;
static volatile sig_atomic_t g_ended;
static pid_t g_server;
#ifdef HAS_HANDLER
static sigset_t g_wait_mask;
#endif
static long g_budget = -1; /* bits left to send before a stall; -1: no limit */

#ifdef HAS_HANDLER
static void on_signal(int sig, siginfo_t *info, void *context)
{
	(void)context;
	if (info->si_pid != g_server)
		return;
# ifdef END_ACK_SIG
	if (sig == END_ACK_SIG)
		g_ended = 1;
# endif
	if (sig == SIGUSR1 || sig == SIGUSR2)
		g_acked = 1;
}
#endif

static void send_signal(int sig)
{
	if (kill(g_server, sig) != 0) {
		perror("kill");
		exit(2);
	}
}

#ifdef HAS_HANDLER
static void wait_ack(void)
{
	while (!g_acked)
		sigsuspend(&g_wait_mask);
	g_acked = 0;
}
#endif

static void send_bit(int bit)
{
	if (g_budget == 0)
		return;
	if (g_budget > 0)
		g_budget--;
	g_acked = 0;
	send_signal(bit ? ONE_SIG : ZERO_SIG);
#ifdef ACK_SIG
	wait_ack();
#else
	usleep(PACE_US);
#endif
}

static void send_bits(uint64_t value, int count)
{
	int i;

	for (i = 0; i < count; i++) {
#ifdef LSB_FIRST
		send_bit((int)((value >> i) & 1));
#else
		send_bit((int)((value >> (count - 1 - i)) & 1));
#endif
	}
}

static void send_message(const unsigned char *data, size_t length)
{
	size_t i;

#ifdef HANDSHAKE
	g_acked = 0;
	send_signal(SIGUSR1);
	wait_ack();
#endif
#ifdef LEN_BITS
# ifdef LEN_COUNTS_NUL
	send_bits((uint64_t)length + 1, LEN_BITS);
# else
	send_bits((uint64_t)length, LEN_BITS);
# endif
#endif
	for (i = 0; i < length; i++)
		send_bits(data[i], 8);
#ifdef WITH_NUL
	send_bits(0, 8);
#endif
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char *data;
	size_t length;
	size_t i;
	long stall_ms = 0;

	if (argc != 3 && argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s SERVER_PID MESSAGE [STALL_BITS STALL_MS] | SERVER_PID -x HEX\n", argv[0]);
		return 1;
	}
	g_server = (pid_t)atoi(argv[1]);
	if (g_server <= 0)
		return 1;
	if (argc == 4 && strcmp(argv[2], "-x") == 0) {
		length = strlen(argv[3]) / 2;
		data = malloc(length + 1);
		for (i = 0; i < length; i++)
			data[i] = (unsigned char)(hex_value(argv[3][2 * i]) * 16 + hex_value(argv[3][2 * i + 1]));
	} else {
		data = (unsigned char *)argv[2];
		length = strlen(argv[2]);
		if (argc == 5) {
			g_budget = atol(argv[3]);
			stall_ms = atol(argv[4]);
		}
	}
	alarm(30);
#ifdef HAS_HANDLER
	{
		struct sigaction action;
		sigset_t block;

		memset(&action, 0, sizeof(action));
		action.sa_sigaction = on_signal;
		action.sa_flags = SA_SIGINFO;
		sigemptyset(&action.sa_mask);
		sigemptyset(&block);
# if defined(ACK_SIG)
		sigaction(ACK_SIG, &action, NULL);
		sigaddset(&block, ACK_SIG);
# endif
# if defined(END_ACK_SIG)
		sigaction(END_ACK_SIG, &action, NULL);
		sigaddset(&block, END_ACK_SIG);
# endif
# if defined(HANDSHAKE)
		sigaction(SIGUSR1, &action, NULL);
		sigaddset(&block, SIGUSR1);
# endif
		/* Blocked except inside sigsuspend: an ack can never slip in between
		 * kill() and the wait (the classic minitalk race). */
		sigprocmask(SIG_BLOCK, &block, &g_wait_mask);
		sigdelset(&g_wait_mask, SIGUSR1);
		sigdelset(&g_wait_mask, SIGUSR2);
	}
#endif
	if (g_budget >= 0) {
		struct timespec pause_for;

		send_message(data, length); /* stops after the budget */
		if (stall_ms < 0)
			return 0;
		pause_for.tv_sec = stall_ms / 1000;
		pause_for.tv_nsec = (stall_ms % 1000) * 1000000L;
		while (nanosleep(&pause_for, &pause_for) != 0 && errno == EINTR)
			;
		g_budget = -1;
	}
	send_message(data, length);
#ifdef END_ACK_SIG
	{
		sigset_t end_set;
		siginfo_t info;
		struct timespec left = {5, 0};

		sigemptyset(&end_set);
		sigaddset(&end_set, END_ACK_SIG);
		while (!g_ended) {
			if (sigtimedwait(&end_set, &info, &left) < 0)
				return 3;
			if (info.si_pid == g_server)
				g_ended = 1;
		}
	}
#endif
#ifdef LINGER_MS
	{
		struct timespec linger = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000000L};

		while (nanosleep(&linger, &linger) != 0 && errno == EINTR)
			;
	}
#endif
	return 0;
}
