"""The business core. Views and jobs call these; they hold the rules."""
