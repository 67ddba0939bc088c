-- 1 after an administrator reset the password: the user's sessions open nothing but the
-- password change until they choose their own.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
