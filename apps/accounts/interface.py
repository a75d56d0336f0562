"""What other apps (and the settings) may use from accounts."""
