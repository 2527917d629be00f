-- What the accrued basis pays each dividend line's obligation [fen]: its target.
--
-- A run on the ``received`` basis pays a period's cash as it arrives, toward what the
-- ``accrued`` basis pays each payee for the period; the cash of earlier periods that
-- arrives later pays what each line's target still lacks (target - paid), never more.
-- So once all of a period's cash is in, both bases have paid every payee the same to the
-- fen. Lines written before this have no target: their cash for them pays their arrears
-- (the obligation is their target), as it did.
ALTER TABLE dividend_lines ADD COLUMN accrued_fen bigint;
COMMENT ON COLUMN dividend_lines.accrued_fen IS
    'what the accrued basis pays this line''s obligation [fen]; NULL: written before 0022';
