"""sigchat: messages over SIGUSR1/SIGUSR2, done properly."""

__version__ = "0.1.0"
