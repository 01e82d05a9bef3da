CREATE TABLE `taskmill_claim_locks` (
	`name` varchar(255) NOT NULL,
	CONSTRAINT `taskmill_claim_locks_name` PRIMARY KEY(`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
