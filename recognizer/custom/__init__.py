"""Custom models: a user's own classes, trained on a frozen backbone."""
