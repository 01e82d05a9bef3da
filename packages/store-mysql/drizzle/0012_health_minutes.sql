CREATE TABLE `taskmill_health_minutes` (
	`minute` bigint NOT NULL,
	`name` varbinary(1020) NOT NULL,
	`kind` varchar(1) NOT NULL,
	`k` bigint NOT NULL,
	`n` int NOT NULL,
	`c` int NOT NULL,
	`f` int NOT NULL,
	CONSTRAINT `taskmill_health_minutes_minute_name_kind_k_pk` PRIMARY KEY(`minute`,`name`,`kind`,`k`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
