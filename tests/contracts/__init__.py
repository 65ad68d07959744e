"""Contract tests: the providers' documented example requests and answers, served over real HTTP."""
