"""The rules of onboarding forms, one module per subject: what a valid Questionnaire is
(`validation`), how its items are shown and answered (`items`), the built-in instruments and their
scores (`instruments`), the practice's forms (`library`), clients' answers (`responses`), what a
client has to do (`todos`) and what staff do from a client's record (`record`)."""
