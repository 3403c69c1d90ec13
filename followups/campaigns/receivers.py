"""What campaigns do when the follow-ups layer announces SMS facts
(followups.events): a reply marks the member, 退订/TD opts them out."""
