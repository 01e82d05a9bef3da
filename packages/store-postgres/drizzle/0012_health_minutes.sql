CREATE TABLE "taskmill_health_minutes" (
	"minute" bigint NOT NULL,
	"name" varchar(255) NOT NULL,
	"kind" varchar(1) NOT NULL,
	"k" bigint NOT NULL,
	"n" integer NOT NULL,
	"c" integer NOT NULL,
	"f" integer NOT NULL,
	CONSTRAINT "taskmill_health_minutes_minute_name_kind_k_pk" PRIMARY KEY("minute","name","kind","k")
);
