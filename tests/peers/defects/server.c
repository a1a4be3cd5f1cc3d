/*
 * A minitalk server for tests/test_check.py: correct without flags, and one
 * deliberate defect per -D flag, each a mistake seen in real student code.
 * Written for sigchat-check to find; no sigchat code in it.
 *
 * Without flags: prints "Server PID: <pid>", then every message as its bytes
 * and a newline (write(2), nothing else); MSB first, SIGUSR2 = 1,
 * NUL-terminated, a SIGUSR1 ack after every bit, sent from the handler;
 * a new client pid restarts the message.
 *
 * Defects:
 *   -DSTDIO_NO_FLUSH  prints with printf and never flushes: a pipe is fully
 *                     buffered, so nothing shows until it exits
 *   -DEXTRA_TEXT      prints "Received: " before each message
 *   -DNO_NEWLINE      prints no newline after a message
 *   -DLSB_FIRST       reads each byte least significant bit first
 *
 * Not a defect, a convention: -DEND_ACK=SIGUSR2 (or SIGUSR1) sends that signal
 * once a message is whole, after the last bit's ack (I's and G's servers).
 */
#define _DEFAULT_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_MESSAGE (1 << 20)

static unsigned char g_data[MAX_MESSAGE + 1];
static size_t g_count;
static pid_t g_client;
static int g_nbits;
static unsigned int g_byte;

static void print_message(void)
{
#ifdef STDIO_NO_FLUSH
	g_data[g_count] = 0;
	printf("%s\n", (char *)g_data);
#else
# ifdef EXTRA_TEXT
	write(1, "Received: ", 10);
# endif
	write(1, g_data, g_count);
# ifndef NO_NEWLINE
	write(1, "\n", 1);
# endif
#endif
}

static void on_signal(int sig, siginfo_t *info, void *context)
{
	int bit = (sig == SIGUSR2);

	(void)context;
	if (info->si_pid != g_client) {
		g_client = info->si_pid;
		g_nbits = 0;
		g_byte = 0;
		g_count = 0;
	}
#ifdef LSB_FIRST
	g_byte |= (unsigned int)bit << g_nbits;
#else
	g_byte = (g_byte << 1) | (unsigned int)bit;
#endif
	if (++g_nbits == 8) {
		if (g_byte == 0) {
			print_message();
			g_count = 0;
#ifdef END_ACK
			g_nbits = 0;
			g_byte = 0;
			kill(g_client, SIGUSR1);
			usleep(600); /* (G's does so: two SIGUSR1 at once would merge into one) */
			kill(g_client, END_ACK);
			return;
#endif
		} else if (g_count < MAX_MESSAGE) {
			g_data[g_count++] = (unsigned char)g_byte;
		}
		g_nbits = 0;
		g_byte = 0;
	}
	kill(g_client, SIGUSR1);
}

int main(void)
{
	struct sigaction action;
	char line[40];
	int n;

	memset(&action, 0, sizeof(action));
	action.sa_sigaction = on_signal;
	action.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&action.sa_mask);
	sigaddset(&action.sa_mask, SIGUSR1);
	sigaddset(&action.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &action, NULL);
	sigaction(SIGUSR2, &action, NULL);
	n = snprintf(line, sizeof(line), "Server PID: %d\n", (int)getpid());
	write(1, line, (size_t)n);
	for (;;)
		pause();
}
