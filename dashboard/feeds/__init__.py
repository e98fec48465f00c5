"""What other tools read from us without a login: the CCTray feed, status badges, and the
feed tokens that let them in."""
