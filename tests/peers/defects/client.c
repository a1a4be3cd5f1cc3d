/*
 * A minitalk client for tests/test_check.py: correct without flags, and one
 * deliberate defect per -D flag, each a mistake seen in real student code.
 * Written for sigchat-check to find; no sigchat code in it.
 *
 *   client SERVER_PID MESSAGE
 *
 * Without flags: MSB first, SIGUSR2 = 1, NUL-terminated, waits for a SIGUSR1
 * after every bit (sigtimedwait, 1 s; gives up with exit 1 once the server is
 * gone, or after 5 s of silence), checks its arguments, and signals only a
 * process that catches, blocks or ignores both signals (/proc/PID/status).
 *
 * Defects:
 *   -DNO_WAIT         does not wait for acks: sends the bits back to back
 *   -DLSB_FIRST       sends each byte least significant bit first
 *   -DNO_LAST_ACK     exits right after its last bit, without its ack
 *   -DNO_NUL          never sends the terminating NUL
 *   -DKILL_ANY        signals whatever PID it is given (no /proc check)
 *   -DNO_ARG_CHECK    atoi() on the PID and no check at all (so no /proc
 *                     check either): "abc", "0" and negative PIDs reach kill()
 *   -DHANG            waits for each ack for ever (sigwaitinfo, no timeout)
 *   -DEXIT_STATUS=N   exits N after a message that went well
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef NO_ARG_CHECK
# define KILL_ANY
#endif
#ifndef EXIT_STATUS
# define EXIT_STATUS 0
#endif

static pid_t g_server;
static sigset_t g_acks;

#ifndef KILL_ANY
static int signals_are_handled(pid_t pid)
{
	char path[64];
	char line[256];
	unsigned long long mask = 0;
	unsigned long long want = (1ULL << (SIGUSR1 - 1)) | (1ULL << (SIGUSR2 - 1));
	FILE *file;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	file = fopen(path, "r");
	if (!file)
		return 0;
	while (fgets(line, sizeof(line), file)) {
		if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7) || !strncmp(line, "SigCgt:", 7))
			mask |= strtoull(line + 7, NULL, 16);
	}
	fclose(file);
	return (mask & want) == want;
}
#endif

static void wait_ack(void)
{
#ifdef NO_WAIT
	return;
#else
	siginfo_t info;
# ifndef HANG
	int waited = 0;
# endif

	for (;;) {
# ifdef HANG
		if (sigwaitinfo(&g_acks, &info) < 0)
			continue;
# else
		struct timespec second = {1, 0};

		if (sigtimedwait(&g_acks, &info, &second) < 0) {
			if (errno == EINTR)
				continue;
			if (kill(g_server, 0) != 0 || ++waited >= 5) {
				fprintf(stderr, "client: no ack from %d: server gone or stuck\n", (int)g_server);
				exit(1);
			}
			continue;
		}
# endif
		if (info.si_pid == g_server && info.si_signo == SIGUSR1)
			return;
	}
#endif
}

static void send_bit(int bit, int last)
{
	if (kill(g_server, bit ? SIGUSR2 : SIGUSR1) != 0) {
		perror("client: kill");
		exit(1);
	}
#ifdef NO_LAST_ACK
	if (last)
		return;
#else
	(void)last;
#endif
	wait_ack();
}

static void send_byte(unsigned char byte, int last)
{
	int i;

	for (i = 0; i < 8; i++) {
#ifdef LSB_FIRST
		send_bit((byte >> i) & 1, last && i == 7);
#else
		send_bit((byte >> (7 - i)) & 1, last && i == 7);
#endif
	}
}

static int parse_pid(const char *text, pid_t *pid)
{
#ifdef NO_ARG_CHECK
	*pid = (pid_t)atoi(text);
	return 1;
#else
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || *end || end == text || value <= 0 || value > 4194304)
		return 0;
	*pid = (pid_t)value;
	return 1;
#endif
}

int main(int argc, char **argv)
{
	const unsigned char *message;
	size_t length;
	size_t i;

	if (argc != 3 || !parse_pid(argv[1], &g_server)) {
		fprintf(stderr, "usage: %s SERVER_PID MESSAGE (PID: a positive number)\n", argv[0]);
		return 2;
	}
#ifndef KILL_ANY
	if (!signals_are_handled(g_server)) {
		fprintf(stderr, "client: %d is not a minitalk server (SIGUSR1/SIGUSR2 would kill it)\n", (int)g_server);
		return 1;
	}
#endif
	sigemptyset(&g_acks);
	sigaddset(&g_acks, SIGUSR1);
	sigaddset(&g_acks, SIGUSR2);
	sigprocmask(SIG_BLOCK, &g_acks, NULL);
	message = (const unsigned char *)argv[2];
	length = strlen(argv[2]);
	for (i = 0; i < length; i++)
		send_byte(message[i], 0);
#ifndef NO_NUL
	send_byte(0, 1);
#endif
	return EXIT_STATUS;
}
