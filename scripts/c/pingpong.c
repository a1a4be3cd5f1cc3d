/*
 * The C limits sigchat is measured against (make bench builds this with gcc).
 *
 * Two processes, both pinned to one CPU, signal each other back and forth,
 * with no protocol at all:
 *
 *   kill      the parent kill()s SIGUSR1, the child sigwaitinfo()s it and
 *             kill()s SIGUSR1 back: the 1-bit limit (one bit per round trip).
 *   sigqueue  the same with sigqueue() and a 64-bit si_value that the child
 *             reads: the limit of one turbo word per round trip.
 *   pair      the parent sigqueue()s a SIGUSR1 and a SIGUSR2 word, the child
 *             takes both (SIGUSR1 is delivered first) and answers once: the
 *             limit of two turbo words per round trip.
 *
 * The child starts a session of its own, as a server started from its own
 * terminal has (autogroup scheduling puts the two in different groups).
 * Prints the round trips per second as a plain number. Usage:
 *   pingpong kill|sigqueue|pair [ROUNDS] [CPU [CHILD_CPU]]
 * CPU: the one both processes run on (default: the highest allowed, where
 * sigchat-server pins its receiver thread); CHILD_CPU: another one for the
 * child, to measure a round trip between two CPUs.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum mode { KILL, SIGQUEUE, PAIR };

static double seconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

static int pin(int cpu)
{
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	if (sched_setaffinity(0, sizeof cpus, &cpus) < 0) {
		perror("pingpong: sched_setaffinity");
		return -1;
	}
	return 0;
}

static int take(const sigset_t *set, siginfo_t *info)
{
	struct timespec timeout = {5, 0};

	return sigtimedwait(set, info, &timeout);
}

static void put(pid_t pid, int signo, enum mode mode, uint64_t value)
{
	union sigval sv;

	if (mode == KILL) {
		kill(pid, signo);
		return;
	}
	sv.sival_ptr = (void *)(uintptr_t)value;
	sigqueue(pid, signo, sv);
}

static void child(pid_t parent, long rounds, enum mode mode, const sigset_t *set)
{
	siginfo_t info;
	uint64_t sum = 0;

	setsid();
	for (long i = 0; i < rounds; i++) {
		if (take(set, &info) < 0)
			_exit(1);
		sum += (uintptr_t)info.si_value.sival_ptr;
		if (mode == PAIR) {
			if (take(set, &info) < 0)
				_exit(1);
			sum += (uintptr_t)info.si_value.sival_ptr;
		}
		kill(parent, SIGUSR1);
	}
	_exit(sum == 0 && mode != KILL);  /* the values were read */
}

int main(int argc, char **argv)
{
	enum mode mode;
	long rounds = argc > 2 ? atol(argv[2]) : 200000;
	cpu_set_t cpus;
	sigset_t set;
	siginfo_t info;
	pid_t pid, parent = getpid();
	int cpu = -1, child_cpu = -1, status;
	double start, elapsed;

	if (argc < 2 || rounds <= 0) {
		fprintf(stderr, "usage: pingpong kill|sigqueue|pair [ROUNDS] [CPU [CHILD_CPU]]\n");
		return 2;
	}
	if (!strcmp(argv[1], "kill"))
		mode = KILL;
	else if (!strcmp(argv[1], "sigqueue"))
		mode = SIGQUEUE;
	else if (!strcmp(argv[1], "pair"))
		mode = PAIR;
	else {
		fprintf(stderr, "pingpong: unknown mode %s\n", argv[1]);
		return 2;
	}
	sched_getaffinity(0, sizeof cpus, &cpus);
	if (argc > 3)
		cpu = atoi(argv[3]);
	if (argc > 4)
		child_cpu = atoi(argv[4]);
	for (int c = CPU_SETSIZE - 1; cpu < 0 && c >= 0; c--)
		if (CPU_ISSET(c, &cpus))
			cpu = c;
	if (pin(cpu) < 0)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);  /* before the fork: the child inherits it */
	pid = fork();
	if (pid == 0) {
		if (child_cpu >= 0 && pin(child_cpu) < 0)
			_exit(1);
		child(parent, rounds, mode, &set);
	}
	start = seconds();
	for (long i = 0; i < rounds; i++) {
		put(pid, SIGUSR1, mode, 2 * i + 1);
		if (mode == PAIR)
			put(pid, SIGUSR2, mode, 2 * i + 2);
		if (take(&set, &info) < 0) {
			fprintf(stderr, "pingpong: the partner stopped answering\n");
			kill(pid, SIGKILL);
			return 1;
		}
	}
	elapsed = seconds() - start;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "pingpong: the partner failed\n");
		return 1;
	}
	printf("%.0f\n", rounds / elapsed);
	return 0;
}
