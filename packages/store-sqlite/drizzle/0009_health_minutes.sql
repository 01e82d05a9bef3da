CREATE TABLE `taskmill_health_minutes` (
	`minute` integer NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`k` integer NOT NULL,
	`n` integer NOT NULL,
	`c` integer NOT NULL,
	`f` integer NOT NULL,
	PRIMARY KEY(`minute`, `name`, `kind`, `k`)
);
