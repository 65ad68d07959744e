"""Who someone is: sign-up, sign-in and passwords (``credentials``) and the revocable signed-in
session (``sessions``)."""
