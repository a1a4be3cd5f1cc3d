/*
 * A classic minitalk server, written like the public implementations and
 * independently of sigchat: the tests compile it with gcc, once per convention.
 *
 * Prints "PID <pid>" first, then "MSG <hex>" for every whole message (hex,
 * so that any byte and newline survives the pipe), "BAD <hex>" for a
 * length-and-NUL message whose NUL is missing, and on SIGTERM
 * "CLIENT <pid> <signals>": how many signals the last client's arrived. Everything happens in the
 * signal handler (SA_SIGINFO, both signals masked while it runs); a new
 * client pid restarts the message.
 *
 * Conventions (compile-time): -DLSB_FIRST, -DONE_IS_USR1, -DLEN_BITS=32|64
 * (+ -DWITH_NUL, -DLEN_COUNTS_NUL), -DACK_SIG=S (default SIGUSR1) or
 * -DNO_ACK, -DEND_ACK_SIG=S (sent after the last bit's ack), -DHANDSHAKE (the
 * first SIGUSR1 of each message is answered with SIGUSR1); see
 * minitalk_client.c.
 */
#define _DEFAULT_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef ONE_IS_USR1
# define ONE_SIG SIGUSR1
#else
# define ONE_SIG SIGUSR2
#endif
#if !defined(NO_ACK) && !defined(ACK_SIG)
# define ACK_SIG SIGUSR1
#endif
#if !defined(LEN_BITS) && !defined(WITH_NUL)
# define WITH_NUL
#endif
#define MAX_MESSAGE (1 << 20)

static unsigned char g_data[MAX_MESSAGE];
static char g_line[2 * MAX_MESSAGE + 16];
static pid_t g_client;
static volatile unsigned long g_signals;
static int g_shaken;
static int g_nbits;
static unsigned int g_byte;
static size_t g_count;
#ifdef LEN_BITS
static int g_len_bits;
static uint64_t g_length;
#endif

static void reset(void)
{
	g_shaken = 0;
	g_nbits = 0;
	g_byte = 0;
	g_count = 0;
#ifdef LEN_BITS
	g_len_bits = 0;
	g_length = 0;
#endif
}

static void print_message(const char *tag)
{
	static const char digits[] = "0123456789abcdef";
	size_t n = 0;
	size_t i;

	memcpy(g_line, tag, 4);
	n = 4;
	for (i = 0; i < g_count; i++) {
		g_line[n++] = digits[g_data[i] >> 4];
		g_line[n++] = digits[g_data[i] & 15];
	}
	g_line[n++] = '\n';
	write(1, g_line, n);
}

/* Returns 1 when the byte ended the message. */
static int on_byte(unsigned char byte)
{
#ifdef LEN_BITS
	size_t total = (size_t)g_length;
# if defined(WITH_NUL) && !defined(LEN_COUNTS_NUL)
	total += 1;
# endif
	if (g_count < MAX_MESSAGE)
		g_data[g_count] = byte;
	g_count++;
	if (g_count < total)
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

static void on_signal(int sig, siginfo_t *info, void *context)
{
	int bit = (sig == ONE_SIG);
	int ended = 0;

	(void)context;
	if (info->si_pid != g_client) {
		g_client = info->si_pid;
		g_signals = 0;
		reset();
	}
	g_signals++;
#ifdef HANDSHAKE
	if (!g_shaken) {
		if (sig == SIGUSR1) {
			g_shaken = 1;
			kill(g_client, SIGUSR1);
		}
		return;
	}
#endif
#ifdef LEN_BITS
	if (g_len_bits < LEN_BITS) {
# ifdef LSB_FIRST
		g_length |= (uint64_t)bit << g_len_bits;
# else
		g_length = (g_length << 1) | (uint64_t)bit;
# endif
		g_len_bits++;
		if (g_len_bits == LEN_BITS) {
			size_t total = (size_t)g_length;
# if defined(WITH_NUL) && !defined(LEN_COUNTS_NUL)
			total += 1;
# endif
			if (total == 0) {
				print_message("MSG ");
				ended = 1;
			}
		}
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
#ifdef LEN_BITS
acknowledge:
#endif
#ifdef ACK_SIG
	kill(g_client, ACK_SIG);
#endif
	if (ended) {
#ifdef END_ACK_SIG
		kill(g_client, END_ACK_SIG);
#endif
		reset();
	}
}

static void on_term(int sig)
{
	char line[64];
	int n;

	(void)sig;
	n = snprintf(line, sizeof(line), "CLIENT %d %lu\n", (int)g_client, g_signals);
	write(1, line, (size_t)n);
	_exit(0);
}

int main(void)
{
	struct sigaction action;
	char line[32];
	int n;

	memset(&action, 0, sizeof(action));
	action.sa_sigaction = on_signal;
	action.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&action.sa_mask);
	sigaddset(&action.sa_mask, SIGUSR1);
	sigaddset(&action.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &action, NULL);
	sigaction(SIGUSR2, &action, NULL);
	signal(SIGTERM, on_term);
	n = snprintf(line, sizeof(line), "PID %d\n", (int)getpid());
	write(1, line, (size_t)n);
	for (;;)
		pause();
}
